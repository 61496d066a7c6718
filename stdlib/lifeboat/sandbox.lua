-- sandbox.lua: the environment plan code (inline lua:, scripts, ${{ }}
-- expressions, plan-local actions and providers) runs in. It has the safe
-- parts of the standard library and the lifeboat API; no io, no
-- os.execute/exit, no debug, no coroutines, no binary chunks, no __gc.
-- What it reaches of the host is read-only (lifeboat/readonly.lua): the
-- step's scope, the API tables, the few stdlib modules require may load.
-- So plan code cannot change stdlib, the shared string library or the
-- scope other steps see, and cannot stop the host: a step's deadline and
-- Ctrl-C end it even inside pcall (see core.expired).
local api = require("lifeboat.api")
local readonly = require("lifeboat.readonly")
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

-- The stdlib modules plan code may require, as read-only views: pure
-- helpers, what a provider reads of the plan state (docs/providers.md),
-- and the stdlib actions and providers (to build on). The others are the
-- host's.
local REQUIRABLE = {
  ["lifeboat.json"] = function() return require("lifeboat.json") end,
  ["lifeboat.util"] = function() return require("lifeboat.util") end,
  ["lifeboat.schema"] = function() return require("lifeboat.schema") end,
  ["lifeboat.provider"] = function() return require("lifeboat.provider") end,
  ["lifeboat.state"] = function() return { resources = require("lifeboat.state").resources } end,
}
local function stdlib_module(name)
  if REQUIRABLE[name] then return REQUIRABLE[name]() end
  if name:match("^actions%.") or name:match("^providers%.") then return require(name) end
end

local API_NAMES = { "exec", "http", "json", "fs", "log", "now", "sleep", "wait_until", "secret" }
local lifeboat_api
local function lifeboat()
  if not lifeboat_api then
    local lb = {}
    for _, name in ipairs(API_NAMES) do lb[name] = api[name] end
    for k, v in pairs(M.extensions) do lb[k] = v end
    lifeboat_api = readonly.freeze(lb)
  end
  return lifeboat_api
end

-- pcall and xpcall that do not catch the end of a step: once its deadline
-- passed (or Ctrl-C), what they caught is raised again.
local function after(...)
  local why = core.expired()
  if why then error(why, 0) end
  return ...
end
local function guarded_pcall(f, ...) return after(pcall(f, ...)) end
-- The message handler runs where the error is raised: for the hook's
-- error that is inside the hook, where no hook can stop a loop. So it is
-- not called for the end of a step.
local function guarded_xpcall(f, handler, ...)
  if type(handler) ~= "function" then return after(xpcall(f, handler, ...)) end
  return after(xpcall(f, function(e)
    if core.expired() then return e end
    return handler(e)
  end, ...))
end

-- A finalizer runs outside any step, with hooks off: no deadline could
-- stop it. Plan code gets none.
local function guarded_setmetatable(t, mt)
  if type(mt) == "table" and rawget(mt, "__gc") ~= nil then
    error("setmetatable: __gc is not allowed in plan code", 2)
  end
  return setmetatable(t, mt)
end

local function guarded_rawset(t, k, v)
  if readonly.is_view(t) then error("attempt to change a read-only table", 2) end
  return rawset(t, k, v)
end

function M.env(scope, plan_dir)
  local env = {
    assert = assert, error = error, ipairs = ipairs, pairs = pairs, next = next, select = select,
    tonumber = tonumber, tostring = tostring, type = type, rawequal = rawequal, rawget = rawget, rawlen = rawlen,
    rawset = guarded_rawset, setmetatable = guarded_setmetatable, getmetatable = getmetatable,
    pcall = guarded_pcall, xpcall = guarded_xpcall,
    string = copy(string), table = copy(table), math = copy(math), utf8 = copy(utf8), os = copy(safe_os),
    _VERSION = _VERSION,
  }
  env._G = env
  local lb = lifeboat()
  env.lifeboat = lb
  for _, name in ipairs(API_NAMES) do env[name] = lb[name] end
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
      m = stdlib_module(name)
      if m == nil then
        error("module '" .. name .. "' is part of lifeboat itself; plan code may require lifeboat.json, " ..
          "lifeboat.util, lifeboat.state (resources), lifeboat.schema, lifeboat.provider, actions.* and providers.*", 2)
      end
      m = readonly.view(m)
    else
      error("module '" .. name .. "' is neither in the plan's folder nor in stdlib", 2)
    end
    if m == nil then m = true end
    loaded[name] = m
    return m
  end
  for k, v in pairs(scope or {}) do env[k] = readonly.view(v) end
  return env
end

-- Runs Lua source in a fresh sandbox; returns what the chunk returns.
function M.run(src, chunkname, scope, plan_dir, ...)
  local env = M.env(scope, plan_dir)
  local fn, e = load(src, chunkname, "t", env)
  if not fn then error(e, 0) end
  return fn(...)
end

local function results(ok, ...)
  if not ok then
    local e = ...
    error(type(e) == "string" and e or "(an error object that is not a string)", 0)
  end
  local n = select("#", ...)
  local out = table.pack(...)
  for i = 1, n do out[i] = readonly.plain(out[i], true) end
  return table.unpack(out, 1, n)
end

-- A plan's own action (kind "actions") or provider ("providers"): its
-- code runs in a sandbox; the host gets a table of its functions, which
-- hand the plan's code read-only views of what the host passes (an
-- action's `with` excepted: it is made for the call) and give the host
-- plain copies of what they return.
function M.module(src, chunkname, plan_dir, kind)
  local m = M.run(src, chunkname, {}, plan_dir)
  if type(m) ~= "table" then return m end
  local host = {}
  for k, v in pairs(m) do
    if type(k) == "string" then
      if type(v) == "function" then
        host[k] = function(...)
          local args = table.pack(...)
          for i = 1, args.n do
            if not (kind == "actions" and k == "run" and i == 1) then args[i] = readonly.view(args[i]) end
          end
          return results(pcall(v, table.unpack(args, 1, args.n)))
        end
      else
        host[k] = readonly.plain(v, true)
      end
    end
  end
  return host
end

return M
