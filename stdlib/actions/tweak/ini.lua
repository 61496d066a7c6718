-- tweak.ini: set values in INI, .env and .properties files. set keys are
-- "section.key" or "key" (outside any section; a key may hold dots, as in
-- properties files). Comments, order, spacing and quoting style of the
-- other lines are kept; a key that is not there fails the step.
local tweak = require("lifeboat.tweak")

local A = {}
A.check = tweak.need_set

local function esc(s) return (s:gsub("%p", "%%%0")) end

-- Finds the line of key in section ("" = before any section).
local function find(lines, section, key)
  local cur = ""
  for i, line in ipairs(lines) do
    local sec = line:match("^%s*%[([^%]]+)%]%s*$")
    if sec then cur = sec:match("^%s*(.-)%s*$")
    elseif cur == section and not line:match("^%s*[#;]") then
      local pre = line:match("^(%s*export%s+" .. esc(key) .. "%s*[=:]%s*)") or line:match("^(%s*" .. esc(key) .. "%s*[=:]%s*)")
      if pre then return i, pre end
    end
  end
end

local function set_one(lines, name, value)
  local candidates = { { "", name } }
  local pos = #name
  while true do
    local dot = name:sub(1, pos):match(".*()%.")
    if not dot then break end
    candidates[#candidates + 1] = { name:sub(1, dot - 1), name:sub(dot + 1) }
    pos = dot - 1
  end
  for _, c in ipairs(candidates) do
    local i, pre = find(lines, c[1], c[2])
    if i then
      local old = lines[i]:sub(#pre + 1)
      local quote = old:match('^(["\'])')
      local v = tweak.value_text(value)
      lines[i] = pre .. (quote and (quote .. v .. quote) or v)
      return true
    end
  end
  return false
end

function A.run(with, ctx)
  return tweak.edit(ctx, with.file, function(text)
    local lines = {}
    for line in (text .. (text:sub(-1) == "\n" and "" or "\n")):gmatch("([^\n]*)\n") do lines[#lines + 1] = line end
    local names = {}
    for k in pairs(with.set) do names[#names + 1] = k end
    table.sort(names)
    for _, name in ipairs(names) do
      if not set_one(lines, name, with.set[name]) then
        error(string.format("%s: no key '%s' to set", with.file, name), 0)
      end
    end
    return table.concat(lines, "\n") .. (text:sub(-1) == "\n" and "\n" or ""),
      "set " .. table.concat(names, ", ")
  end)
end

return A
