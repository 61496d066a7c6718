-- secrets.lua: secret values come from LIFEBOAT_SECRET_<NAME> or from a
-- secrets file (NAME=value lines) that must be mode 0600. Every value
-- resolved is remembered so redact() can replace it with *** wherever
-- text leaves the process: output, logs, journal, reports. Reading a
-- secret-bearing environment variable any other way (${{ env.X }},
-- os.getenv, an exec's env) remembers its value too.
local M = {}

local known = {}     -- value -> true
local ordered = {}   -- values and their encoded forms, longest first
local file_values
M.file = nil         -- set from the plan or LIFEBOAT_SECRETS_FILE

local json_escapes = { ['"'] = '\\"', ["\\"] = "\\\\", ["\b"] = "\\b", ["\f"] = "\\f", ["\n"] = "\\n",
  ["\r"] = "\\r", ["\t"] = "\\t" }
local html_escapes = { ["&"] = "&amp;", ["<"] = "&lt;", [">"] = "&gt;", ['"'] = "&quot;", ["'"] = "&#39;" }

-- The forms a value takes once encoded for where text goes: a JSON string
-- (journal, --json, report.json), HTML and XML (report.html, junit.xml),
-- a shell word in single or double quotes (the commands steps run), a
-- Markdown table cell (report.md) and a URL.
local function encoded_forms(v)
  return {
    (v:gsub('[\0-\31"\\]', function(c) return json_escapes[c] or string.format("\\u%04x", c:byte()) end)),
    (v:gsub("[&<>\"']", html_escapes)),
    (v:gsub("'", "'\\''")),
    (v:gsub('[\\"$`]', "\\%0")),
    (v:gsub("|", "\\|"):gsub("\n", " ")),
    (v:gsub("[^%w%-._~]", function(c) return string.format("%%%02X", c:byte()) end)),
  }
end

local function add(v)
  if v == "" or known[v] then return false end
  known[v] = true
  ordered[#ordered + 1] = v
  return true
end

local function remember(v)
  if type(v) ~= "string" or not add(v) then return end
  for _, form in ipairs(encoded_forms(v)) do add(form) end
  table.sort(ordered, function(a, b) return #a > #b end)
end
M.remember = remember

-- Environment variables whose values are secrets or store credentials:
-- never passed to a child unless a step names them, redacted once read.
local SECRET_NAMES = { LIFEBOAT_PASSPHRASE = true, LIFEBOAT_KEY_FILE = true, LIFEBOAT_SECRETS_FILE = true,
  LIFEBOAT_SSH_KEY = true, AWS_ACCESS_KEY_ID = true, AWS_SECRET_ACCESS_KEY = true, AWS_SESSION_TOKEN = true }

function M.is_secret_name(name)
  return type(name) == "string" and (SECRET_NAMES[name] or name:sub(1, 16) == "LIFEBOAT_SECRET_" or
    name:sub(1, 14) == "AZURE_STORAGE_") or false
end

-- os.getenv for plan code: a secret-bearing value is remembered.
function M.getenv(name)
  local v = core.getenv(name)
  if v and M.is_secret_name(name) then remember(v) end
  return v
end

-- The `env` of expressions and scripts: the environment, read live;
-- reading a secret-bearing variable (or iterating them all) remembers it.
M.environ = setmetatable({}, {
  __index = function(_, k) if type(k) == "string" then return M.getenv(k) end end,
  __newindex = function() error("env is read-only", 2) end,
  __pairs = function()
    local all = core.environ()
    for k, v in pairs(all) do if M.is_secret_name(k) then remember(v) end end
    return next, all, nil
  end,
  __metatable = "env",
})

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
  if #s == 0 then return s end
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

-- A copy of v with every string in it (keys too) redacted: done before a
-- value is encoded, so no escaping can hide a secret from redact(). Only
-- raw access (no metamethod runs); the JSON array marker is kept.
local function redact_value(v, depth)
  if type(v) == "string" then return M.redact(v) end
  if type(v) ~= "table" or depth > 100 then return v end
  local out = {}
  for k, x in next, v do out[redact_value(k, depth + 1)] = redact_value(x, depth + 1) end
  local mt = getmetatable(v)
  if type(mt) == "table" and rawget(mt, "__jsontype") then setmetatable(out, { __jsontype = rawget(mt, "__jsontype") }) end
  return out
end

function M.redact_value(v)
  if #ordered == 0 then return v end
  return redact_value(v, 0)
end

-- A table usable as secret.NAME and secret("NAME") in expressions.
M.accessor = setmetatable({}, {
  __index = function(_, k) return M.get(k) end,
  __call = function(_, k) return M.get(k) end,
  __newindex = function() error("secret is read-only", 2) end,
  __metatable = "secret",
})

return M
