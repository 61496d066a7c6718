-- secrets.lua: secret values come from LIFEBOAT_SECRET_<NAME> or from a
-- secrets file (NAME=value lines) that must be mode 0600. Every value
-- resolved is remembered so redact() can replace it with *** wherever
-- text leaves the process: output, logs, journal, reports.
local M = {}

local known = {}     -- value -> true
local ordered = {}   -- values, longest first
local file_values
M.file = nil         -- set from the plan or LIFEBOAT_SECRETS_FILE

local function remember(v)
  if v == "" or known[v] then return end
  known[v] = true
  ordered[#ordered + 1] = v
  table.sort(ordered, function(a, b) return #a > #b end)
end

local function load_file()
  if file_values then return file_values end
  local path = M.file or core.getenv("LIFEBOAT_SECRETS_FILE")
  file_values = {}
  if not path then return file_values end
  local st, e = core.fs.stat(path)
  if not st then error("secrets file " .. e, 0) end
  if st.mode & 0x3f ~= 0 then
    error(string.format("secrets file %s must be mode 0600 (it is %04o): chmod 600 %s", path, st.mode, path), 0)
  end
  local text = assert(core.fs.read(path))
  local n = 0
  for line in (text .. "\n"):gmatch("([^\n]*)\n") do
    n = n + 1
    if not line:match("^%s*#") and line:match("%S") then
      local k, v = line:match("^%s*([%w_]+)%s*=%s*(.-)%s*$")
      if not k then error(string.format("%s:%d: expected NAME=value", path, n), 0) end
      v = v:match('^"(.*)"$') or v:match("^'(.*)'$") or v
      file_values[k:upper()] = v
    end
  end
  return file_values
end

local function env_name(name) return (name:upper():gsub("[^%w]", "_")) end

-- The value of secret NAME; raises when it is not set anywhere.
function M.get(name)
  if type(name) ~= "string" or name == "" then error("secret: a name is needed", 2) end
  local v = core.getenv("LIFEBOAT_SECRET_" .. env_name(name))
  if v == nil then v = load_file()[env_name(name)] end
  if v == nil then
    error(string.format("secret '%s' is not set (LIFEBOAT_SECRET_%s or the secrets file)", name, env_name(name)), 0)
  end
  remember(v)
  return v
end

function M.has(name)
  return pcall(M.get, name)
end

function M.redact(s)
  if type(s) ~= "string" or #ordered == 0 then return s end
  for _, v in ipairs(ordered) do
    local i = 1
    local out = {}
    while true do
      local a, b = s:find(v, i, true)
      if not a then break end
      out[#out + 1] = s:sub(i, a - 1)
      out[#out + 1] = "***"
      i = b + 1
    end
    if #out > 0 then
      out[#out + 1] = s:sub(i)
      s = table.concat(out)
    end
  end
  return s
end

-- A table usable as secret.NAME and secret("NAME") in expressions.
M.accessor = setmetatable({}, {
  __index = function(_, k) return M.get(k) end,
  __call = function(_, k) return M.get(k) end,
})

return M
