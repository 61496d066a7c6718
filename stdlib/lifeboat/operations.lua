-- operations.lua: the operations of the recovery lifecycle, one record per
-- file in stdlib/lifeboat/operation/ (found there, ordered by `order`).
-- Adding an operation is adding a file. A record says:
--   name, order, summary (for `lifeboat --help`), usage and help
--   flags, values       the options it takes besides the common ones
--   check(args)         -> why its options do not fit together, or nil
--   site                the site it acts on (for the docs and `show`)
--   brings_up           machines come up: actions without `only:` run,
--                       prepare runs, preflight checks points, reports
--                       are written, a kept drill refuses it
--   needs_store         the store must exist before it runs
--   subset              takes --machines/--group
--   machines(st, plan)  the machines it runs on after a failover of some
--                       (the plan's state says which), or nil for all
--   planned(args)       true/false for a failover-like operation, else nil
--   direction(st)       "to-recovery" or "to-primary"
--   refusal(st, args)   -> why the plan's state refuses it, or nil
--   build(b, h, args)   adds its steps (h: the stages of ops.lua)
--   apply(st, job, args, ok) what a finished job changes in the plan state
local util = require("lifeboat.util")

local M = {}

local records, by_name

local function load()
  if records then return end
  records, by_name = {}, {}
  for _, mod in ipairs(util.stdlib_modules("lifeboat.operation")) do
    local r = require(mod)
    assert(r.name == mod:match("[^.]+$"), mod .. ": its record must be named after its file")
    records[#records + 1] = r
    by_name[r.name] = r
  end
  table.sort(records, function(a, b) return a.order < b.order end)
end

-- Every record, in order.
function M.all()
  load()
  return records
end

function M.get(name)
  load()
  return by_name[name]
end

function M.names()
  local list = {}
  for _, r in ipairs(M.all()) do list[#list + 1] = r.name end
  return list
end

-- The operations where machines come up (where actions without `only:` run).
function M.bringing_up()
  local list = {}
  for _, r in ipairs(M.all()) do if r.brings_up then list[#list + 1] = r.name end end
  return list
end

-- The operations that take an option, for "--planned is for failover".
local SUBSET_OPTIONS = { "machines", "group", "ignore-depends-on" }
function M.taking(option)
  local list = {}
  for _, r in ipairs(M.all()) do
    if util.contains(r.flags, option) or util.contains(r.values, option) or
      (r.subset and util.contains(SUBSET_OPTIONS, option)) then
      list[#list + 1] = r.name
    end
  end
  return list
end

return M
