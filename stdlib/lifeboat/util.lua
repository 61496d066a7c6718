-- util.lua: small helpers shared by stdlib modules.
local M = {}

function M.sorted_keys(t)
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = k end
  table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
  return keys
end

function M.copy(t)
  local c = {}
  for k, v in pairs(t) do c[k] = v end
  return c
end

-- {"a", "b", "c"} -> "a, b and c"
function M.and_list(list)
  if #list <= 1 then return list[1] or "" end
  return table.concat(list, ", ", 1, #list - 1) .. " and " .. list[#list]
end

function M.contains(list, x)
  for _, v in ipairs(list or {}) do if v == x then return true end end
  return false
end

function M.dirname(path)
  local d = path:match("^(.*)/[^/]*$")
  if d == nil then return "." end
  if d == "" then return "/" end
  return d
end

function M.join(a, b)
  if b:sub(1, 1) == "/" then return b end
  if a == "." then return b end
  return a:gsub("/$", "") .. "/" .. b
end

-- "90s", "15m", "1h30m", "2d", "500ms" -> seconds; nil for anything else
-- (the same parser as the C commands': units largest first, each once).
function M.parse_duration(s) return core.parse_duration(s) end

local size_units = { [""] = 1, B = 1, KiB = 1024, MiB = 1024 ^ 2, GiB = 1024 ^ 3, TiB = 1024 ^ 4,
  K = 1024, M = 1024 ^ 2, G = 1024 ^ 3 }

-- "16KiB", "4096", "1M" -> bytes; nil otherwise.
function M.parse_size(s)
  if math.type(s) == "integer" and s >= 0 then return s end
  if type(s) ~= "string" then return nil end
  local n, unit = s:match("^(%d+)(%a*)$")
  if not n or not size_units[unit] then return nil end
  return math.tointeger(tonumber(n) * size_units[unit])
end

function M.fmt_size(bytes)
  if bytes < 1024 then return string.format("%d B", bytes) end
  local units, v, i = { "KiB", "MiB", "GiB", "TiB" }, bytes / 1024, 1
  while v >= 1024 and i < #units do v, i = v / 1024, i + 1 end
  return string.format("%.1f %s", v, units[i])
end

function M.fmt_duration(secs)
  if secs == nil then return "-" end
  if secs < 1 then return string.format("%dms", math.floor(secs * 1000 + 0.5)) end
  if secs < 60 then return string.format("%.1fs", secs) end
  if secs < 3600 then return string.format("%dm%02ds", secs // 60, math.floor(secs % 60)) end
  return string.format("%dh%02dm", secs // 3600, math.floor(secs % 3600 / 60))
end

-- "2026-11-23T12:00:00Z" (RFC 3339, UTC) -> Unix seconds; nil otherwise.
function M.parse_time(s)
  local y, mo, d, h, mi, se = tostring(s):match("^(%d+)-(%d+)-(%d+)[T ](%d+):(%d+):(%d+)")
  if not y then return nil end
  local t = os.time { year = y, month = mo, day = d, hour = h, min = mi, sec = se, isdst = false }
  return t + (os.time() - os.time(os.date("!*t"))) -- os.time reads local time
end

function M.iso(t)
  return os.date("!%Y-%m-%dT%H:%M:%SZ", math.floor(t))
end

-- Levenshtein distance, for "did you mean".
local function distance(a, b)
  local prev = {}
  for j = 0, #b do prev[j] = j end
  for i = 1, #a do
    local cur = { [0] = i }
    for j = 1, #b do
      local cost = a:sub(i, i) == b:sub(j, j) and 0 or 1
      cur[j] = math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
    end
    prev = cur
  end
  return prev[#b]
end

function M.nearest(word, candidates)
  local best, bestd
  for _, c in ipairs(candidates) do
    local d = distance(word, c)
    if not bestd or d < bestd then best, bestd = c, d end
  end
  if best and bestd <= math.max(2, #word // 3) then return best end
  return nil
end

-- The stdlib modules under PREFIX ("actions" -> "actions.log", ...,
-- "actions.x.y" too), sorted: from LIFEBOAT_STDLIB when set, else embedded.
function M.stdlib_modules(prefix)
  local names = {}
  local dir = core.getenv("LIFEBOAT_STDLIB")
  if dir and dir ~= "" then
    local root = dir .. "/" .. prefix:gsub("%.", "/")
    for _, pattern in ipairs({ "/*.lua", "/*/*.lua" }) do
      for _, p in ipairs(core.fs.glob(root .. pattern)) do
        names[#names + 1] = prefix .. "." .. p:sub(#root + 2, -5):gsub("/", ".")
      end
    end
  else
    for _, n in ipairs(core.stdlib_names()) do
      if n:sub(1, #prefix + 1) == prefix .. "." then names[#names + 1] = n end
    end
  end
  table.sort(names)
  return names
end

return M
