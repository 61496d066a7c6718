-- readonly.lua: how plan code sees the host's tables (the scope, a step's
-- ctx, the stdlib modules it may require) and how the host sees what plan
-- code hands back.
--
-- view(v) gives a read-only view of a host table: it reads through to the
-- table, gives views of the tables in it, raises on a write and has a
-- locked metatable. A function reached through a view is called with the
-- tables behind the views it gets, and its results come back as views, so
-- no path leads from plan code to a table the host relies on (a function
-- plan code passes in is called, in turn, with views). freeze(v) is a
-- view whose functions are handed out as they are: for the lifeboat API,
-- whose results belong to the caller. plain(v) is a copy made with raw
-- access only, so no metamethod of plan code runs while the host reads it.
local M = {}

local real_of = setmetatable({}, { __mode = "k" })   -- view -> the table behind it
local view_of = setmetatable({}, { __mode = "k" })   -- table -> its view
local frozen_of = setmetatable({}, { __mode = "k" }) -- table -> its frozen view
local for_plan = setmetatable({}, { __mode = "k" })  -- host function -> what plan code calls
local for_host = setmetatable({}, { __mode = "k" })  -- plan function -> what host code calls
local host_fn = setmetatable({}, { __mode = "k" })   -- wrapper given to plan code -> host function
local plan_fn = setmetatable({}, { __mode = "k" })   -- wrapper given to host code -> plan function

local to_plan, to_host

local function map(f, n, ...)
  if n == 0 then return end
  if n == 1 then return (f((...))) end
  local t = { ... }
  for i = 1, n do t[i] = f(t[i]) end
  return table.unpack(t, 1, n)
end

local function pass(f, ...) return map(f, select("#", ...), ...) end

-- a host function called from plan code, and a plan function from host code
local function call_host(f, ...) return pass(to_plan, f(pass(to_host, ...))) end
local function call_plan(f, ...) return pass(to_host, f(pass(to_plan, ...))) end

local function read_only() error("attempt to change a read-only table", 2) end

local function pairs_of(p, wrap)
  local f, s, k = pairs(real_of[p])
  return function()
    local v
    k, v = f(s, k)
    if k ~= nil then return wrap(k), wrap(v) end
  end, p, nil
end

local view_mt = {
  __index = function(p, k) return to_plan(real_of[p][to_host(k)]) end,
  __newindex = read_only,
  __pairs = function(p) return pairs_of(p, to_plan) end,
  __len = function(p) return #real_of[p] end,
  __call = function(p, ...) return call_host(real_of[p], ...) end,
  __tostring = function(p) return tostring(real_of[p]) end,
  __name = "read-only",
  __metatable = "read-only",
}

function M.view(v)
  return to_plan(v)
end

to_plan = function(v)
  local t = type(v)
  if t == "table" then
    if real_of[v] then return v end
    local p = view_of[v]
    if not p then
      p = setmetatable({}, view_mt)
      real_of[p] = v
      view_of[v] = p
    end
    return p
  elseif t == "function" then
    if plan_fn[v] then return plan_fn[v] end -- one of plan code's own, coming back
    local w = for_plan[v]
    if not w then
      w = function(...) return call_host(v, ...) end
      for_plan[v] = w
      host_fn[w] = v
    end
    return w
  end
  return v
end

to_host = function(v)
  local t = type(v)
  if t == "table" then return real_of[v] or v end
  if t == "function" then
    if host_fn[v] then return host_fn[v] end -- one of the host's own, coming back
    local w = for_host[v]
    if not w then
      w = function(...) return call_plan(v, ...) end
      for_host[v] = w
      plan_fn[w] = v
    end
    return w
  end
  return v
end

-- frozen views: tables read-only, functions as they are
local function freeze(v)
  if type(v) ~= "table" or real_of[v] then return v end
  local p = frozen_of[v]
  if not p then
    p = setmetatable({}, {
      __index = function(_, k) return freeze(v[k]) end,
      __newindex = read_only,
      __pairs = function(q) return pairs_of(q, freeze) end,
      __len = function() return #v end,
      __call = function(_, ...) return v(...) end,
      __tostring = function() return tostring(v) end,
      __name = "read-only",
      __metatable = "read-only",
    })
    real_of[p] = v
    frozen_of[v] = p
  end
  return p
end
M.freeze = freeze

function M.is_view(v) return real_of[v] ~= nil end

-- plain(v [, results]): a deep copy of v with views replaced by copies of
-- what is behind them, read with raw access only (no metamethod runs);
-- only the JSON array marker of a metatable is kept. With results set,
-- what JSON cannot hold (functions, threads, userdata other than
-- json.null, non-scalar keys, what is nested beyond 100 levels) is left
-- out: what a step hands the host. Without, too deep a nesting raises.
local function plain(v, results, depth)
  local t = type(v)
  if t == "table" then
    if depth > 100 then
      if results then return nil end
      error("json: nested too deeply (a cycle?)", 0)
    end
    v = real_of[v] or v
    local out = {}
    for k, x in next, v do
      local kt = type(k)
      if not results or kt == "string" or kt == "number" then
        local px = plain(x, results, depth + 1)
        if px ~= nil then out[k] = px end
      end
    end
    local mt = getmetatable(v)
    if type(mt) == "table" and rawget(mt, "__jsontype") == "array" then setmetatable(out, { __jsontype = "array" }) end
    return out
  end
  if results and (t == "function" or t == "thread" or (t == "userdata" and v ~= core.null)) then return nil end
  return v
end

function M.plain(v, results) return plain(v, results, 0) end

return M
