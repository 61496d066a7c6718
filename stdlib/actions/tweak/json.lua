-- tweak.json: set values in a JSON file by path ("a.b[0].c"); the order of
-- keys is kept. A path that selects nothing fails the step.
local json = require("lifeboat.json")
local tweak = require("lifeboat.tweak")

local A = {}
A.check = tweak.need_set

local function segments(path)
  local out = {}
  for part in path:gmatch("[^.]+") do
    local name, rest = part:match("^([^%[]*)(.*)$")
    if name ~= "" then out[#out + 1] = name end
    for idx in rest:gmatch("%[(%d+)%]") do out[#out + 1] = math.tointeger(tonumber(idx)) end
    if rest:gsub("%[%d+%]", "") ~= "" then error("bad JSON path '" .. path .. "'", 0) end
  end
  return out
end

function A.run(with, ctx)
  return tweak.edit(ctx, with.file, function(text)
    local names = {}
    for k in pairs(with.set) do names[#names + 1] = k end
    table.sort(names)
    for _, path in ipairs(names) do
      local new, err = core.json_set(text, segments(path), json.encode(with.set[path]))
      if not new then error(string.format("%s: %s: %s", with.file, path, err), 0) end
      text = new
    end
    return text, "set " .. table.concat(names, ", ")
  end)
end

return A
