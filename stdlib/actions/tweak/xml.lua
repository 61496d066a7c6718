-- tweak.xml: set elements' text or attributes' values selected by XPath
-- (libxml2), e.g. a connection string in a web.config:
--   set: { "/configuration/connectionStrings/add[@name='Main']/@connectionString": "..." }
-- An XPath that selects nothing fails the step.
local tweak = require("lifeboat.tweak")

local A = {}
A.check = tweak.need_set

function A.run(with, ctx)
  return tweak.edit(ctx, with.file, function(text)
    local names = {}
    for k in pairs(with.set) do names[#names + 1] = k end
    table.sort(names)
    local total = 0
    for _, xpath in ipairs(names) do
      local new, n = core.xml_set(text, xpath, tweak.value_text(with.set[xpath]))
      if not new then error(string.format("%s: %s", with.file, n), 0) end
      if n == 0 then error(string.format("%s: XPath %s selects nothing", with.file, xpath), 0) end
      text, total = new, total + n
    end
    return text, string.format("set %d value(s) at %s", total, table.concat(names, ", "))
  end)
end

return A
