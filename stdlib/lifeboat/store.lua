-- store.lua: the plan's replica store (rt.store = {url, key_file}),
-- reached through this program's own commands (sync, restore, points,
-- prune, store init) as a protected or recovering host would run them.
-- The calls block: make them inside a step.
local api = require("lifeboat.api")
local json = require("lifeboat.json")

local M = {}

-- What a lifeboat child needs from this process's environment to open a
-- store: its key, and the credentials of a remote store. Children get a
-- clean environment, so these are passed on explicitly, when set.
M.CHILD_ENV = {
  "LIFEBOAT_PASSPHRASE", "LIFEBOAT_KEY_FILE",
  "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_REGION", "AWS_DEFAULT_REGION",
  "AWS_ENDPOINT_URL",
  "AZURE_STORAGE_CONNECTION_STRING", "AZURE_STORAGE_ACCOUNT", "AZURE_STORAGE_KEY", "AZURE_STORAGE_SAS_TOKEN",
  "LIFEBOAT_SSH_KEY", "LIFEBOAT_SSH_KNOWN_HOSTS",
}

-- The env table for a lifeboat child: the CHILD_ENV variables that are set.
function M.child_env()
  local env = {}
  for _, name in ipairs(M.CHILD_ENV) do
    local v = core.getenv(name)
    if v then env[name] = v end
  end
  return env
end

function M.exists(rt) return rt.store ~= nil and core.fs.stat(rt.store.url) ~= nil end

-- Runs `lifeboat ARGS... --store URL [--key-file K] --json` and returns the
-- decoded answer; raises with the command's own error line. The answer is
-- captured whole (a long history lists thousands of points): the capture
-- grows as needed and says what it could not keep, which is an error here.
function M.run(rt, args, timeout)
  local argv = { core.self_exe(), table.unpack(args) }
  argv[#argv + 1] = "--store"; argv[#argv + 1] = rt.store.url
  if rt.store.key_file then argv[#argv + 1] = "--key-file"; argv[#argv + 1] = rt.store.key_file end
  argv[#argv + 1] = "--json"
  local r = api.exec(argv, { check = false, timeout = timeout, env = M.child_env(), max_output = math.maxinteger })
  if r.code ~= 0 then error((((r.stderr ~= "" and r.stderr or r.stdout):gsub("%s+$", ""))), 0) end
  local what = "'lifeboat " .. args[1] .. " --store " .. rt.store.url .. "'"
  if r.stdout_dropped then
    error(string.format("%s: its answer was cut after %d bytes (out of memory)", what, #r.stdout), 0)
  end
  local v, e = json.decode(r.stdout)
  if type(v) ~= "table" then
    error(string.format("%s answered what is not a JSON object or list (%s): %s", what, e or "got " .. tostring(v),
      r.stdout:sub(1, 120)), 0)
  end
  return v
end

-- Every point, oldest first ({} while the store does not exist).
function M.points(rt)
  if not M.exists(rt) then return {} end
  return M.run(rt, { "points" })
end

-- Creates the store (encrypted when the plan names a key file) unless it exists.
function M.ensure(rt)
  if not rt.store or M.exists(rt) then return end
  local argv = { core.self_exe(), "store", "init", rt.store.url }
  if rt.store.key_file then
    argv[#argv + 1] = "--encrypt"; argv[#argv + 1] = "--key-file"; argv[#argv + 1] = rt.store.key_file
  end
  api.exec(argv, { env = M.child_env() })
end

return M
