-- state.lua: the plan's state between jobs (which site is active, the
-- phase of the lifecycle, a kept drill, the last drill and app-consistent
-- point) in STATE/plan.json, and the rules that refuse an operation that
-- does not fit, with a sentence saying what to run first.
local json = require("lifeboat.json")
local job_mod = require("lifeboat.job")
local operations = require("lifeboat.operations")
local util = require("lifeboat.util")

local M = {}

function M.load(state_dir)
  local text = core.fs.read(state_dir .. "/plan.json")
  local st = text and json.decode(text)
  if type(st) ~= "table" then st = {} end
  st.active = st.active or "primary"
  st.phase = st.phase or "protected" -- protected, failed-over, reprotected, committed
  return st
end

function M.save(state_dir, st)
  assert(core.fs.mkdir(state_dir))
  local ok, e = core.fs.write(state_dir .. "/plan.json", json.encode(st, true) .. "\n")
  if not ok then error(e, 0) end
end

-- The machines a job of op runs on when the plan failed over only some
-- (failover --machines/--group), as its record says; nil: as the command
-- line says.
function M.machines_for(op, st, plan)
  local rec = operations.get(op)
  return rec.machines and rec.machines(st, plan) or nil
end

-- Operations name sites by role: primary, recovery, drill. After a commit
-- that protects onward (commit --onward SITE) the roles move: the site the
-- machines now run at is the primary, SITE the recovery site. site_of
-- gives the plan's site that has a role, role_of the role of a site.
function M.site_of(st, role)
  return (st and st.roles and st.roles[role]) or role
end

function M.role_of(st, site)
  for role, name in pairs(st and st.roles or {}) do if name == site then return role end end
  return site
end

-- The site replication reads from: the active one, unless fenced.
function M.replication_source(st)
  if st.phase == "reprotected" then return "recovery" end
  return "primary"
end

-- nil when op may run now, else why not and what to run first.
function M.refusal(op, st, args)
  local rec = operations.get(op)
  if st.kept_drill and rec.brings_up then
    return string.format("a kept drill (job %s) is still up; run 'lifeboat cleanup PLAN' first", st.kept_drill)
  end
  return rec.refusal and rec.refusal(st, args) or nil
end

-- What a finished job changes (its operation's record says). Machines
-- moved by a job done with failures did move.
function M.apply(op, st, job, args, ok, rt)
  local rec = operations.get(op)
  if rec.apply then rec.apply(st, job, args or {}, ok, rt or {}) end
  return st
end

-- The site that may replicate in a phase (nil: none may), as the store's
-- fence records it.
function M.fence_source(phase)
  if phase == "protected" then return "primary" end
  if phase == "reprotected" then return "recovery" end
  return nil
end

-- The store records the plan's state (store.fence_set), so every host that
-- shares the store sees which site is active and which may replicate: a
-- sync from any other site is refused by sync itself.
--
-- After a failover of some machines the store holds two records: the
-- plan's own for the machines that stayed (protected at the primary) and
-- PLAN.subset for those that moved. A sync is refused when any record
-- that lists its machine says so, so each machine is bound to its site.
function M.subset_key(plan) return plan.name .. ".subset" end

function M.others(plan, subset)
  local rest = {}
  for _, m in ipairs(plan.machine_order) do
    if not util.contains(subset, m) then rest[#rest + 1] = m end
  end
  return rest
end

function M.record_in_store(rt, plan, st, job_id)
  if not rt.store then return end
  local store = require("lifeboat.store")
  local source = M.fence_source(st.phase)
  local here = { phase = st.phase, active = M.site_of(st, st.active), source = source and M.site_of(st, source),
    job = job_id }
  if st.subset then
    local primary = M.site_of(st, "primary")
    store.fence_set(rt, plan.name, { phase = "protected", active = primary, source = primary,
      machines = M.others(plan, st.subset), job = job_id })
    here.machines = st.subset
    store.fence_set(rt, M.subset_key(plan), here)
  else
    here.machines = plan.machine_order
    store.fence_set(rt, plan.name, here)
    -- a subset that came back: its record agrees with the plan's again
    local old = store.fence_get(rt, M.subset_key(plan))
    if old then
      here.machines = old.machines
      store.fence_set(rt, M.subset_key(plan), here)
    end
  end
end

-- Things jobs created at a site (restored paths, processes) that no job
-- has removed yet, from every journal in the state folder; current_job is
-- the id of the running job, if any.
-- The other jobs' journals are read once: they cannot change while this
-- job holds the state folder's lock. The running job's own is read again.
local others
local function journals(state_dir, current)
  if not others or others.dir ~= state_dir then
    others = { dir = state_dir }
    for _, j in ipairs(job_mod.list(state_dir)) do
      if j.id ~= current then others[#others + 1] = j end
    end
  end
  local list = { table.unpack(others) }
  list[#list + 1] = current and job_mod.open(state_dir, current) or nil
  return list
end

function M.resources(state_dir, site, machine, current_job)
  local live, order = {}, {}
  for _, j in ipairs(journals(state_dir, current_job)) do
    for _, e in ipairs(j.created) do
      if e.site == site and (machine == nil or e.machine == machine) then
        local key = e.kind .. ":" .. tostring(e.path or e.pid or e.ref)
        if e.ev == "created" then
          if not live[key] then order[#order + 1] = key end
          live[key] = e
        elseif e.ev == "removed" then
          live[key] = nil
        end
      end
    end
  end
  local out = {}
  for _, k in ipairs(order) do if live[k] then out[#out + 1] = live[k] end end
  return out
end

return M
