-- The provider contract (lifeboat.provider) and docs/providers.md list the
-- same methods, every stdlib provider fulfils it, and a broken one is told
-- what it lacks.
local T = require("tap")
local contract = require("lifeboat.provider")

local doc = fs.read("docs/providers.md")
local block = doc:match("## The interface.-```lua\n(.-)```")
T.ok(block ~= nil, "docs/providers.md has the interface block")
local documented = {}
for name in block:gmatch("function P%.([%w_]+)") do documented[name] = true end
for name in block:gmatch("\nP%.([%w_]+) *=") do documented[name] = true end
for _, kind in ipairs({ "required", "optional" }) do
  for name in pairs(contract[kind]) do
    if name ~= "name" then T.ok(documented[name], "documented: " .. kind .. " " .. name) end
  end
end
for name in pairs(documented) do
  T.ok(contract.required[name] or contract.optional[name], "in the contract: " .. name)
end

for _, p in ipairs({ "local", "noop", "qemu", "ssh" }) do
  T.eq(contract.check(p, require("providers." .. p)), nil, "stdlib provider " .. p .. " fulfils the contract")
end
T.ok((contract.check("x", { dataset_path = function() end }) or ""):find("lacks remove, restore, running, start, stop and sync", 1, true),
  "a provider with only dataset_path is told what it lacks")
local typo = { max_parallel = 2 }
for name in pairs(contract.required) do typo[name] = function() end end
typo.stop, typo.stpo = nil, function() end
T.ok((contract.check("x", typo) or ""):find("lacks stop", 1, true), "a misspelt required method is missing")
typo.stop, typo.stpo = function() end, nil
typo.restor = function() end
T.ok((contract.check("x", typo) or ""):find("'restor', which is no method of providers: did you mean 'restore'?", 1, true),
  "a misspelt optional one is named")
typo.restor = nil
typo.max_parallel = 0
T.ok((contract.check("x", typo) or ""):find("max_parallel must be a whole number", 1, true), "max_parallel 0 is refused")
T.done()
