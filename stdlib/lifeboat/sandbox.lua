-- sandbox.lua: the environment plan code (inline lua:, scripts, ${{ }}
-- expressions, plan-local actions and providers) runs in. It has the safe
-- parts of the standard library and the lifeboat API; no io, no
-- os.execute/exit, no debug, no binary chunks, and require reaches only
-- stdlib and the plan's own folder.
local api = require("lifeboat.api")
local secrets = require("lifeboat.secrets")
local util = require("lifeboat.util")

local M = {}

local function copy(t) local c = {}; for k, v in pairs(t) do c[k] = v end; return c end

local safe_os = { time = os.time, clock = os.clock, date = os.date, difftime = os.difftime, getenv = secrets.getenv }

-- lifeboat.tweak.X{...}: the tweak actions, called from Lua in the
-- current step's context.
M.extensions = {
  tweak = require("lifeboat.tweak").api(function()
    local step = require("lifeboat.sched").current
    return step and step.ctx
  end),
}

function M.env(scope, plan_dir)
  local env = {
    assert = assert, error = error, ipairs = ipairs, pairs = pairs, next = next, pcall = pcall,
    xpcall = xpcall, select = select, tonumber = tonumber, tostring = tostring, type = type,
    rawequal = rawequal, rawget = rawget, rawset = rawset, rawlen = rawlen,
    setmetatable = setmetatable, getmetatable = getmetatable,
    string = copy(string), table = copy(table), math = copy(math), utf8 = copy(utf8), os = copy(safe_os),
    _VERSION = _VERSION,
  }
  env._G = env
  local lb = copy(api)
  for k, v in pairs(M.extensions) do lb[k] = v end
  env.lifeboat = lb
  for _, name in ipairs({ "exec", "http", "json", "fs", "log", "now", "sleep", "wait_until", "secret" }) do
    env[name] = lb[name]
  end
  env.print = function(...)
    local parts = {}
    for i = 1, select("#", ...) do parts[i] = tostring((select(i, ...))) end
    api.log(table.concat(parts, "\t"))
  end
  env.load = function(chunk, name, mode, e)
    if type(chunk) ~= "string" then return nil, "load: only source text is allowed here" end
    if mode and mode ~= "t" then return nil, "load: binary chunks are not allowed" end
    return load(chunk, name, "t", e or env)
  end
  local loaded = {}
  env.require = function(name)
    if type(name) ~= "string" or not name:match("^[%w_]+[%w_.]*$") then
      error("require: bad module name '" .. tostring(name) .. "'", 2)
    end
    if loaded[name] ~= nil then return loaded[name] end
    local path = plan_dir and util.join(plan_dir, name:gsub("%.", "/") .. ".lua")
    local src = path and core.fs.read(path)
    local m
    if src then
      local fn, e = load(src, "@" .. path, "t", env)
      if not fn then error(e, 0) end
      m = fn(name)
    elseif core.stdlib(name) then
      m = require(name)
    else
      error("module '" .. name .. "' is neither in the plan's folder nor in stdlib", 2)
    end
    if m == nil then m = true end
    loaded[name] = m
    return m
  end
  for k, v in pairs(scope or {}) do env[k] = v end
  return env
end

-- Runs Lua source in a fresh sandbox; returns what the chunk returns.
function M.run(src, chunkname, scope, plan_dir, ...)
  local env = M.env(scope, plan_dir)
  local fn, e = load(src, chunkname, "t", env)
  if not fn then error(e, 0) end
  return fn(...)
end

return M
