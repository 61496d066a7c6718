-- boot.lua: the first chunk the host runs. It gives stdlib its own
-- require (stdlib modules only: they are trusted and see `core`), removes
-- the file loaders plan code must not reach, and runs the command.
local core, command, args = ...

local loaded = {}
local loading = {}
function require(name)
  local m = loaded[name]
  if m ~= nil then return m end
  if loading[name] then error("stdlib module '" .. name .. "' requires itself", 2) end
  local src, chunkname = core.stdlib(name)
  if not src then error("module '" .. name .. "' is not in stdlib", 2) end
  local fn, err = load(src, chunkname, "t", _ENV)
  if not fn then error(err, 0) end
  loading[name] = true
  m = fn(name)
  loading[name] = nil
  if m == nil then m = true end
  loaded[name] = m
  return m
end

_G.core = core
-- collect sooner than the default (at 2x): plans of thousands of machines
-- make much short-lived garbage (a sandbox per step)
collectgarbage("incremental", 120, 200)
dofile, loadfile = nil, nil
-- stdlib reads no global it did not set: a name missing its require or
-- local is a defect, said where it happens rather than read as nil
setmetatable(_G, { __index = function(_, name) error("stdlib reads undefined global '" .. tostring(name) .. "'", 2) end })

return require("lifeboat.cli").main(command, args)
