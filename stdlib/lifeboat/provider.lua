-- provider.lua: the provider contract, written once. A provider is checked
-- against it when a plan that uses it is validated or loaded, and
-- docs/providers.md lists the same methods (a test compares the two).
local util = require("lifeboat.util")

local M = {}

-- Methods every provider has: the per-machine steps of the operations,
-- where a dataset lives, and whether a machine runs (a planned failover
-- syncs a machine as planned only once it is verified down).
M.required = {
  dataset_path = "where dataset ds of machine m lives at a site (a path or any string)",
  sync = "a recovery point of each dataset (ctx.consistency: crash, app, planned)",
  restore = "the chosen point of each dataset onto the site (store.point_for)",
  start = "starts the machine at the site",
  stop = "stops it; raises when it may still run",
  remove = "removes what jobs created for the machine at the site (drill clean-up)",
  running = "true while the machine runs at the site (asked after stop)",
}

-- Methods and values a provider may have; without them lifeboat does what
-- the value says.
M.optional = {
  preflight = "problems that would stop an operation, as sentences (none)",
  forget = "drops the machine's replica data at commit (store.forget: its points)",
  retention = "applies policy.retention after a replicate (store.retention)",
  describe = "a line for show and --dry-run (\"WHAT MACHINE on SITE (PROVIDER)\")",
  diagnose = "what the machine said about itself, added to a failed health check (nothing)",
  keys = "the provider's own plan keys: {site = {KEY = SPEC}, machine = {KEY = SPEC}} (none)",
  check_site = "checks of a site's values beyond their types, with FILE:LINE:COL (none)",
  address = "a site's address of a machine when the site has no addresses (an error)",
  remote = "how the plan's commands for a machine run at the site (here)",
  health = "with noop: the health check itself, instead of the plan's health: (the plan's)",
  max_parallel = "a number: at most this many machines of the site in steps at once (the group's max_parallel)",
  noop = "true: the provider only records what it would do (health checks are its own)",
  name = "its name, for messages",
}

-- nil when P fulfils the contract, else why not (one sentence).
function M.check(name, P)
  if type(P) ~= "table" then return string.format("provider '%s' is not a table of methods", name) end
  local missing = {}
  for _, method in ipairs(util.sorted_keys(M.required)) do
    if type(P[method]) ~= "function" then missing[#missing + 1] = method end
  end
  if #missing > 0 then
    return string.format("provider '%s' lacks %s (every provider has %s)", name, util.and_list(missing),
      util.and_list(util.sorted_keys(M.required)))
  end
  for key, v in pairs(P) do
    if not M.required[key] and not M.optional[key] and type(v) == "function" and key:match("^%l") and
      key ~= key:upper() then
      -- helpers of a provider's own are fine; a misspelt method is not
      local near = util.nearest(key, util.sorted_keys(M.required))
      if near and near ~= key and #key >= 4 then
        return string.format("provider '%s' has '%s', which is no method of providers: did you mean '%s'?", name,
          key, near)
      end
    end
  end
  if P.max_parallel ~= nil and (math.type(P.max_parallel) ~= "integer" or P.max_parallel < 1) then
    return string.format("provider '%s': max_parallel must be a whole number of at least 1", name)
  end
  return nil
end

return M
