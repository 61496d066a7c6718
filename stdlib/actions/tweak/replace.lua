-- tweak.replace: replace text in a file: `find` (literal) or `match` (a Lua
-- pattern), with `to`. It fails when nothing matched, so a changed file
-- cannot make a tweak silently do nothing.
local tweak = require("lifeboat.tweak")

local A = {}

function A.check(with)
  if not with.file then return "'file' is required" end
  if (with.find == nil) == (with.match == nil) then return "give one of 'find' or 'match'" end
  if with.to == nil then return "'to' is required" end
end

function A.run(with, ctx)
  return tweak.edit(ctx, with.file, function(text)
    local to = tweak.value_text(with.to)
    local new, n
    if with.find then
      local pattern = tostring(with.find):gsub("%p", "%%%0")
      new, n = text:gsub(pattern, (to:gsub("%%", "%%%%")))
    else
      local ok, r, c = pcall(string.gsub, text, tostring(with.match), to)
      if not ok then error("bad pattern: " .. tostring(r), 0) end
      new, n = r, c
    end
    if n == 0 then
      error(string.format("%s: nothing matched %s '%s'", with.file, with.find and "find" or "match",
        tostring(with.find or with.match)), 0)
    end
    return new, string.format("replaced %d occurrence(s)", n)
  end)
end

return A
