-- cli/preflight.lua: what a job needs before it starts (the plan state,
-- the store, whether quiesce is due) and the checks that refuse it first.
local operations = require("lifeboat.operations")
local ops = require("lifeboat.ops")
local sched = require("lifeboat.sched")
local secrets = require("lifeboat.secrets")
local state_mod = require("lifeboat.state")
local store = require("lifeboat.store")
local util = require("lifeboat.util")

local M = {}

local NO_JOURNAL = { id = "-", event = function() end, flush = function() end, log = function() end,
  approvals = function() return {} end }
-- Runs fn() as a one-step job without a journal, so it may block (exec,
-- http): returns the scheduler's result and the step (value, error).
local function one_step(fn, timeout)
  local step = { id = "call", deps = {}, timeout = timeout }
  step.run = function() step.value = fn() end
  return sched.run(NO_JOURNAL, { step }, {}), step
end

local function blocking(fn)
  local result, step = one_step(fn)
  if result ~= "done" then error(step.error or result, 0) end
  return step.value
end

-- The store's record of the plan's state is what every host shares: when
-- it says another phase or site than this host's state folder (another host
-- failed over, say), it wins, so a refusal says so before anything runs.
-- A subset's record (PLAN.subset) that is not protected is where the plan
-- stands: those machines failed over.
local function adopt_store_state(plan, rt)
  if not rt.store then return end
  local ok, recs = pcall(blocking, function()
    if not store.exists(rt) then return nil end
    return { store.fence_get(rt, plan.name), store.fence_get(rt, state_mod.subset_key(plan)) }
  end)
  if not ok or type(recs) ~= "table" or type(recs[1]) ~= "table" then return end
  local rec, sub = recs[1], recs[2]
  local subset
  if type(sub) == "table" and sub.phase ~= "protected" then rec, subset = sub, sub.machines end
  if rec.phase ~= rt.state.phase or rec.active ~= state_mod.site_of(rt.state, rt.state.active) then
    rt.state.phase, rt.state.active = rec.phase, state_mod.role_of(rt.state, rec.active)
    rt.state.subset = subset
    rt.state.from_store = string.format("recorded in the store by %s at %s", rec.host or "?", rec.time or "?")
  end
end

-- What a job needs besides the plan: the state folder and plan state, the
-- store, and for replicate the source site and whether quiesce is due.
local function prepare(plan, op, rt, state_dir)
  rt.state_dir = state_dir
  rt.state = state_mod.load(state_dir)
  local base = core.fs.realpath(plan.dir) or plan.dir
  if plan.raw.store then
    rt.store = { url = store.resolve(base, plan.raw.store) }
    local enc = plan.raw.encryption
    if enc and enc.key_file then rt.store.key_file = util.join(base, enc.key_file) end
  end
  adopt_store_state(plan, rt)
  if op == "replicate" then
    rt.source = state_mod.replication_source(rt.state)
    local every = (plan.raw.policy or {}).app_consistent_every
    local has_hooks = false
    for _, m in pairs(plan.raw.machines) do if m.quiesce then has_hooks = true end end
    rt.quiesce = has_hooks and (rt.args.app or (every and core.now() - (rt.state.last_app or 0) >= every)) or false
  end
end

-- Secrets the plan's expressions name (secret.NAME or secret("NAME")).
local function referenced_secrets(plan)
  local text = core.fs.read(plan.file) or ""
  local names = {}
  for n in text:gmatch("secret%.([%a_][%w_]*)") do names[n] = true end
  for n in text:gmatch("secret%s*%(%s*[\"']([^\"']+)[\"']%s*%)") do names[n] = true end
  return util.sorted_keys(names)
end

local function store_points(rt) return blocking(function() return store.points(rt) end) end
-- whether the plan's store exists (false, with the reason kept, when it cannot be reached)
local function store_exists(rt)
  local ok, v = pcall(blocking, function() return store.exists(rt) end)
  if not ok then rt.store_error = v end
  return ok and v
end

local function preflight(plan, op, steps, rt)
  local problems = {}
  if rt and rt.store and operations.get(op).brings_up and store_exists(rt) then
    -- the store opens with the key, and every dataset has a point
    local ok, list = pcall(store_points, rt)
    if not ok then
      problems[#problems + 1] = tostring(list)
    else
      local have = {}
      for _, p in ipairs(list) do have[p.machine .. "/" .. p.dataset] = p end
      local threshold = (plan.raw.policy or {}).rpo_threshold or (plan.raw.objectives or {}).rpo
      -- the point --point names exists (a planned switch makes its own with its final syncs)
      local rec = operations.get(op)
      local check_point = rt.args.point and not (rec.planned and rec.planned(rt.args))
      for _, name in ipairs(rt.args.machines or plan.machine_order) do
        for _, d in ipairs(plan.raw.machines[name].datasets or {}) do
          local p = have[name .. "/" .. d.name]
          local pok, perr = true, nil
          if p and check_point then
            pok, perr = pcall(blocking, function() return store.point_for(rt, plan, name, d.name) end)
          end
          if not p then
            problems[#problems + 1] = string.format("no recovery point of %s/%s in the store: run 'lifeboat replicate PLAN' first", name, d.name)
          elseif not pok then
            problems[#problems + 1] = tostring(perr)
          elseif threshold then
            local age = core.now() - (util.parse_time(p.time) or core.now())
            if age > threshold then
              -- an old point is still the best there is: a warning, not a refusal
              rt.warnings = rt.warnings or {}
              table.insert(rt.warnings, string.format("the newest point of %s/%s is %s old, over the RPO threshold of %s",
                name, d.name, util.fmt_duration(age), util.fmt_duration(threshold)))
            end
          end
        end
      end
    end
  end
  for _, name in ipairs(referenced_secrets(plan)) do
    local ok, e = secrets.has(name)
    if not ok then problems[#problems + 1] = e end
  end
  local seen = {}
  for _, s in ipairs(steps) do
    if s.kind ~= "action" and s.machine then
      local site_name = s.title:match("%(([^)]+)%)$")
      if site_name and not seen[site_name] then
        seen[site_name] = true
        local site = ops.site(plan, site_name)
        local p = ops.provider(plan, site.provider)
        for _, pr in ipairs(p.preflight and p.preflight(site, plan, op) or {}) do problems[#problems + 1] = pr end
      end
    end
  end
  return problems
end

M.NO_JOURNAL = NO_JOURNAL
M.one_step = one_step
M.blocking = blocking
M.prepare = prepare
M.store_points = store_points
M.store_exists = store_exists
M.preflight = preflight

return M
