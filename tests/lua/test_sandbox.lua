-- The sandbox against plan code that tries to reach or change the host:
-- stdlib modules, the shared string library, the API's tables, the scope,
-- metatables, finalizers.
local T = require("tap")

-- stdlib modules: only the allowed ones, and those read-only
for _, name in ipairs({ "lifeboat.boot", "lifeboat.secrets", "lifeboat.sched", "lifeboat.cli", "lifeboat.job",
  "lifeboat.sandbox", "lifeboat.api", "lifeboat.expr", "lifeboat.plan", "lifeboat.readonly" }) do
  T.raises(function() require(name) end, "part of lifeboat itself", "require('" .. name .. "') is refused")
end
local util = require("lifeboat.util")
T.eq(util.fmt_duration(90), "1m30s", "an allowed stdlib module works")
T.raises(function() util.fmt_duration = function() return "x" end end, "read-only", "an allowed module cannot be changed")
T.eq(util.fmt_duration(90), "1m30s", "and is unchanged")
local prov = require("providers.local")
T.raises(function() prov.start = nil end, "read-only", "a stdlib provider cannot be changed")
T.ok(type(prov.start) == "function", "its functions can be called from a plan's own provider")
T.raises(function() setmetatable(util, {}) end, "protected metatable", "setmetatable on a module is refused")
T.raises(function() rawset(util, "copy", 1) end, "read-only", "rawset on a module is refused")
T.eq(getmetatable(util), "read-only", "a module's metatable is locked")
local state = require("lifeboat.state")
T.ok(type(state.resources) == "function" and state.save == nil and state.apply == nil,
  "of the plan state, only what a provider reads (resources)")
local schema = require("lifeboat.schema")
local keys = schema.known_keys()
T.ok(type(keys.plan) == "table" and #keys.plan > 5, "results of module functions can be read")
T.raises(function() keys.plan = nil end, "read-only", "but not changed (they may be the host's)")
T.ok(json.encode(keys):find('"plan":[', 1, true) ~= nil, "json.encode sees through read-only views")

-- the shared string library
T.ok(type(getmetatable("")) ~= "table", "getmetatable('') gives no table")
T.raises(function() getmetatable("").__index.find = function() end end, "index", "the string library cannot be reached through a string")
string.find = function() return nil end -- this sandbox's copy only
T.ok(("abc"):find("b", 1, true) == 2, "replacing string.find changes only the sandbox's copy")

-- the API's tables
T.raises(function() http.get = nil end, "read-only", "http cannot be changed")
T.raises(function() lifeboat.exec = nil end, "read-only", "lifeboat cannot be changed")
T.raises(function() json.encode = nil end, "read-only", "json cannot be changed")
T.raises(function() fs.read = nil end, "read-only", "fs cannot be changed")
T.raises(function() lifeboat.tweak.ini = nil end, "read-only", "lifeboat.tweak cannot be changed")
T.raises(function() setmetatable(http, nil) end, "protected metatable", "http's metatable cannot be replaced")
T.ok(lifeboat.sink == nil and lifeboat.step_log == nil, "internal hooks of the API are not exposed")
local t = json.decode('{"a":[1,2]}')
t.b = 1
T.ok(t.b == 1 and t.a[2] == 2, "what the API returns belongs to the caller")

-- the scope
T.raises(function() env.PATH = "/tmp" end, "read-only", "env cannot be changed")
T.raises(function() secret.X = "y" end, "read-only", "secret cannot be changed")
T.eq(getmetatable(secret), "read-only", "secret's metatable is locked")
T.raises(function() arg[1] = "x" end, "read-only", "arg cannot be changed")
T.ok(type(env.PATH) == "string", "env can be read")
local n = 0
for _ in pairs(env) do n = n + 1 end
T.ok(n > 0, "env can be iterated")

-- finalizers and metatables
T.raises(function() setmetatable({}, { __gc = function() end }) end, "__gc is not allowed", "__gc is refused")
local mt = setmetatable({}, { __index = function() return 1 end })
T.eq(mt.x, 1, "other metatables work")
T.ok(coroutine == nil, "no coroutines")
T.ok(collectgarbage == nil, "no collectgarbage")

-- load with an environment of its own, and without one
local e = { x = 5 }
T.eq(load("return x", "c", "t", e)(), 5, "load with a custom environment")
T.raises(function() load("string.rep = nil", "c", "t", {})() end, "index", "a chunk with an empty environment reaches nothing")
T.ok(load("\27Lua", "c", "b") == nil, "binary chunks are refused")
T.done()
