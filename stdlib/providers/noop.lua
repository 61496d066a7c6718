-- providers/noop.lua: machines that exist only on paper. Every operation
-- succeeds and only records itself, so plans, the scheduler and the
-- journal can be exercised (and benchmarked) without real machines.
local P = { name = "noop", noop = true }

function P.dataset_path(site, machine, ds)
  return (site.root or ("noop:" .. site.name)) .. "/" .. machine.name .. "/" .. (ds.path or ds.name)
end

function P.preflight(site, plan) return {} end

local function record(what) return function(ctx) return { noop = what, machine = ctx.machine.name } end end
P.sync = record("sync")
P.restore = record("restore")
P.start = record("start")
P.stop = record("stop")
P.remove = record("remove")
P.health = record("health")
P.forget = record("forget")
function P.running(ctx) return false end

return P
