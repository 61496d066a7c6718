-- store.lua: the plan's replica store (rt.store = {url, key_file}),
-- reached through this program's own commands (sync, restore, points,
-- prune, store init) as a protected or recovering host would run them.
-- The calls block: make them inside a step.
local api = require("lifeboat.api")
local json = require("lifeboat.json")

local M = {}

function M.exists(rt) return rt.store ~= nil and core.fs.stat(rt.store.url) ~= nil end

-- Runs `lifeboat ARGS... --store URL [--key-file K] --json` and returns the
-- decoded answer; raises with the command's own error line.
function M.run(rt, args, timeout)
  local argv = { core.self_exe(), table.unpack(args) }
  argv[#argv + 1] = "--store"; argv[#argv + 1] = rt.store.url
  if rt.store.key_file then argv[#argv + 1] = "--key-file"; argv[#argv + 1] = rt.store.key_file end
  argv[#argv + 1] = "--json"
  local r = api.exec(argv, { check = false, timeout = timeout })
  if r.code ~= 0 then error((((r.stderr ~= "" and r.stderr or r.stdout):gsub("%s+$", ""))), 0) end
  return json.decode(r.stdout)
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
  api.exec(argv)
end

return M
