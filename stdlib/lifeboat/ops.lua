-- ops.lua: the operations of the recovery lifecycle as step graphs.
-- Groups come up in order, machines of a group in parallel (max_parallel
-- machine chains at a time), depends_on across machines, before/after
-- actions around each group; going down runs in reverse group order.
-- The per-machine work (sync, restore, start, stop, remove, health) is
-- the provider's; with `noop` it only records itself.
local actions = require("lifeboat.actions")
local expr = require("lifeboat.expr")
local health = require("lifeboat.health")
local operations = require("lifeboat.operations")
local plan_mod = require("lifeboat.plan")
local schema = require("lifeboat.schema")
local secrets = require("lifeboat.secrets")
local state_mod = require("lifeboat.state")
local util = require("lifeboat.util")

local M = {}

M.DEFAULT_PARALLEL = 16

function M.provider(plan, name) return plan_mod.load_module(plan.dir, "providers", name) end

local function abs(plan, path)
  if not path then return nil end
  local base = core.fs.realpath(plan.dir) or plan.dir
  return util.join(base, path)
end

-- The site object plans see as `site`.
function M.site(plan, name)
  local raw = (plan.raw.sites or {})[name]
  if not raw then
    if plan.raw.sites then return nil end
    raw = { provider = "noop" } -- a plan without sites is on paper
  end
  local offset = raw.port_offset or 0
  local s = { name = name, provider = raw.provider, root = abs(plan, raw.root), port_offset = offset,
    options = raw.options or {}, raw = raw, plan = { dir = plan.dir } }
  s.port = function(n) return math.tointeger(n + offset) end
  s.url = function(n, path) return "http://127.0.0.1:" .. s.port(n) .. (path or "/") end
  -- a site with a network of its own: steps, health checks and actions of
  -- the site run inside it, and machines have an address there
  local net, addresses = raw.network, raw.addresses or {}
  s.netns = net and net.name or nil
  s.network = net and { name = net.name, subnet = net.subnet, isolated = net.isolated or false } or nil
  s.addr = function(machine)
    local a = addresses[machine]
    if not a and raw.hosts then a = M.provider(plan, raw.provider).address(s, machine) end
    if not a then error(string.format("site '%s' has no address for '%s'", name, tostring(machine)), 2) end
    return a
  end
  return s
end

-- How the plan's commands for a machine at this site run (api.exec's
-- `remote`): on the machine's host, for providers that have hosts; nil
-- runs them here.
function M.remote(plan, rt, site, machine)
  if not machine then return nil end
  local p = M.provider(plan, site.provider)
  return p.remote and p.remote(site, machine, plan, rt) or nil
end

local function views(plan, site, provider)
  local all = {}
  for _, name in ipairs(plan.machine_order) do
    local m = plan.raw.machines[name]
    local v = { name = name, description = m.description, vars = m.vars or {}, datasets = {} }
    for _, d in ipairs(m.datasets or {}) do
      local path = provider.dataset_path(site, v, d)
      v.datasets[d.name] = path
    end
    all[name] = v
  end
  return all
end

-- The ${{ }} scope of a step; one per site and machine, made once.
function M.scope(plan, rt, site, machine_name)
  rt.scopes = rt.scopes or {}
  local key = site.name .. "/" .. (machine_name or "")
  if rt.scopes[key] then return rt.scopes[key] end
  local provider = M.provider(plan, site.provider)
  rt.views = rt.views or {}
  rt.views[site.name] = rt.views[site.name] or views(plan, site, provider)
  rt.plan_view = rt.plan_view or { name = plan.name, file = plan.abs, dir = core.fs.realpath(plan.dir) or plan.dir,
    description = plan.raw.description, objectives = plan.raw.objectives or {}, vars = plan.raw.vars or {} }
  local machines = rt.views[site.name]
  local m = machine_name and machines[machine_name] or nil
  local scope = {
    plan = rt.plan_view, vars = plan.raw.vars or {},
    site = site, machine = m, machines = machines, dataset = m and m.datasets or {},
    job = rt.job and { id = rt.job.id, op = rt.job.op, dir = rt.job.dir } or {},
    env = secrets.environ, secret = secrets.accessor, args = rt.args or {},
  }
  rt.scopes[key] = scope
  return scope
end

-- What an action's `only:` is matched against: the operation, whether it
-- is planned (nil for operations that are neither) and its direction, as
-- the operation's record says.
function M.job_kind(op, rt)
  local rec = operations.get(op)
  local planned
  if rec.planned then planned = rec.planned(rt.args or {}) end
  -- after a failover of some machines, a job of only the others goes
  -- their way: they still run at the primary
  local st, args = rt.state or {}, rt.args or {}
  if st.subset and args.machines then
    local moved = false
    for _, m in ipairs(args.machines) do if util.contains(st.subset, m) then moved = true end end
    if not moved then st = { active = "primary" } end
  end
  return { op = op, planned = planned, direction = rec.direction(st) }
end

-- Whether an action runs in a job of this kind: each kind of condition the
-- list names (operations, planned/unplanned, directions) must hold; with
-- no operation named, only where machines come up.
function M.runs_in(only, kind)
  local ops, plans, dirs = {}, {}, {}
  for _, v in ipairs(only or {}) do
    if v == "planned" or v == "unplanned" then plans[#plans + 1] = v
    elseif v == "to-recovery" or v == "to-primary" then dirs[#dirs + 1] = v
    else ops[#ops + 1] = v end
  end
  if #ops == 0 then ops = schema.action_ops end
  if not util.contains(ops, kind.op) then return false end
  if #plans > 0 and (kind.planned == nil or not util.contains(plans, kind.planned and "planned" or "unplanned")) then
    return false
  end
  return #dirs == 0 or util.contains(dirs, kind.direction)
end

-- The graph builder: add() appends a step; `tail` is the set of steps the
-- next stage waits for.
local function builder(plan, rt, op)
  local b = { steps = {}, by_id = {}, tail = {}, plan = plan, rt = rt, op = op, kind = M.job_kind(op, rt) }
  if (rt.args or {}).machines then
    b.only = {}
    for _, m in ipairs(rt.args.machines) do b.only[m] = true end
  end
  function b.add(s)
    s.deps = s.deps or util.copy(b.tail)
    b.steps[#b.steps + 1] = s
    b.by_id[s.id] = s
    return s
  end
  return b
end

local function action_step(b, site, a, id, group, machine)
  local plan, rt = b.plan, b.rt
  return b.add {
    id = id, group = group, machine = machine, title = a.name and expr.text(a.name) or actions.describe(a), kind = "action",
    netns = site.netns, remote = M.remote(plan, rt, site, machine),
    action = a, timeout = a.kind ~= "manual" and a.timeout or nil, retries = a.retries, on_error = a.on_error,
    describe = actions.describe(a),
    run = function(step)
      local ctx = { plan = plan, job = rt.job, step = step, opts = rt.opts,
        scope = M.scope(plan, rt, site, machine) }
      step.ctx = ctx
      return actions.run(a, ctx)
    end,
  }
end

-- op: the operation the actions are matched against (a drill's own
-- cleanup runs the actions that name cleanup)
local function actions_chain(b, site, list, prefix, group, machine, op)
  local n = 0
  local kind = b.kind
  if op then kind = util.copy(kind); kind.op = op end
  for i, a in ipairs(list or {}) do
    if M.runs_in(a.only, kind) then
      local s = action_step(b, site, a, prefix .. "/" .. i, group, machine)
      b.tail = { s.id }
      n = n + 1
    end
  end
  return n
end

-- Why a machine is not verified down at a site after its stop step (nil
-- when it is): the stop must have finished and the provider's running()
-- must say no.
local function not_down(ctx, provider, stop)
  if not stop or stop.state ~= "done" then
    return "its stop failed" .. (stop and stop.error and (": " .. stop.error) or "")
  end
  if not provider.running then return "provider '" .. ctx.site.provider .. "' cannot tell whether it runs" end
  if provider.running(ctx) then return "it still runs after its stop" end
  return nil
end

-- A final sync is `planned` (consistent) only when the machine is verified
-- down; else the step fails, so nothing is brought up, or with --force the
-- point is taken as crash-consistent.
local function final_consistency(b, ctx, provider, step)
  local why = not_down(ctx, provider, b.by_id[step.after_stop])
  if not why then return step.consistency end
  local name, site = ctx.machine_view.name, ctx.site.name
  if not (b.rt.args or {}).force then
    error(string.format("%s is not verified down at %s (%s): a final sync now would not be consistent, so " ..
      "nothing is brought up; make its stop work and resume the job, or run the %s again with --force " ..
      "(the final point is then crash-consistent)", name, site, why, b.op), 0)
  end
  require("lifeboat.api").log("%s is not verified down at %s (%s); --force: the final point is crash-consistent",
    name, site, why)
  return "crash"
end

local function machine_step(b, site, what, mname, group, id, extra)
  local plan, rt = b.plan, b.rt
  local provider = M.provider(plan, site.provider)
  local s = {
    id = id, group = group, machine = mname, kind = what, title = what .. " " .. mname .. " (" .. site.name .. ")",
    netns = what == "health" and site.netns or nil,
    remote = what == "health" and M.remote(plan, rt, site, mname) or nil,
    describe = (provider.describe and provider.describe(what, site, mname, plan)) or
      (what .. " " .. mname .. " on " .. site.name .. " (" .. site.provider .. ")"),
    run = function(step)
      local ctx = { plan = plan, job = rt.job, step = step, opts = rt.opts, site = site, provider = provider,
        scope = M.scope(plan, rt, site, mname), machine = plan.raw.machines[mname], rt = rt,
        consistency = step.consistency }
      ctx.machine_view = ctx.scope.machine
      step.ctx = ctx
      if step.after_stop then ctx.consistency = final_consistency(b, ctx, provider, step) end
      if what == "forget" and not provider.forget then -- the contract's default: its points go
        require("lifeboat.store").forget(rt, mname)
        return { forgotten = mname }
      end
      if what == "health" then
        if provider.noop then return provider.health(ctx) end
        local ok, ev = pcall(health.run, plan.raw.machines[mname].health, ctx.scope, plan)
        if not ok and provider.diagnose then
          -- what the machine said about itself (a VM's console) helps more than the timeout
          local said = provider.diagnose(ctx)
          if said then error(setmetatable({ evidence = type(ev) == "table" and ev.evidence or nil },
            { __tostring = function() return tostring(ev) .. "\n" .. said end }), 0) end
        end
        if not ok then error(ev, 0) end
        return { evidence = ev }
      end
      return provider[what](ctx)
    end,
  }
  for k, v in pairs(extra or {}) do s[k] = v end
  return b.add(s)
end

-- A job of a subset (--machines, --group) has steps for its machines
-- only, and runs the actions of the groups that hold one of them.
local function members(b, g)
  if not b.only then return g.machines end
  local list = {}
  for _, m in ipairs(g.machines) do if b.only[m] then list[#list + 1] = m end end
  return list
end

local function groups(b)
  if not b.only then return b.plan.raw.groups end
  local list = {}
  for _, g in ipairs(b.plan.raw.groups) do if #members(b, g) > 0 then list[#list + 1] = g end end
  return list
end

-- Machine chains of a group at once: the group's max_parallel, the plan's,
-- else 16; never more than the site's provider allows.
local function group_limit(plan, g, site)
  local n = g.max_parallel or plan.raw.max_parallel or M.DEFAULT_PARALLEL
  return math.min(n, M.provider(plan, site.provider).max_parallel or n)
end

-- Bring every group up at site, in order.
local function stage_up(b, site, restore_kind)
  local plan = b.plan
  local last_of = {} -- machine -> its last step id (health)
  for _, g in ipairs(groups(b)) do
    actions_chain(b, site, g.before, g.name .. "/before", g.name)
    local entry = util.copy(b.tail)
    local tails = {}
    for _, mname in ipairs(members(b, g)) do
      local m = plan.raw.machines[mname]
      -- the machines of a group share one list of what they wait for (a
      -- copy each grows with the square of the group); steps never change it
      local deps = entry
      for _, dep in ipairs(m.depends_on or {}) do
        if last_of[dep] then
          if deps == entry then deps = util.copy(entry) end
          deps[#deps + 1] = last_of[dep]
        end
      end
      local chain = { chain = g.name .. "/" .. mname, limit = group_limit(plan, g, site), limit_key = g.name }
      local first = machine_step(b, site, restore_kind, mname, g.name, g.name .. "/" .. mname .. "/restore",
        { deps = deps, chain = chain.chain, limit = chain.limit, limit_key = chain.limit_key })
      b.tail = { first.id }
      actions_chain(b, site, m.prepare, g.name .. "/" .. mname .. "/prepare", g.name, mname)
      local s = machine_step(b, site, "start", mname, g.name, g.name .. "/" .. mname .. "/start", chain)
      b.tail = { s.id }
      s = machine_step(b, site, "health", mname, g.name, g.name .. "/" .. mname .. "/health", chain)
      s.last = true
      last_of[mname] = s.id
      tails[#tails + 1] = s.id
    end
    b.tail = tails
    actions_chain(b, site, g.after, g.name .. "/after", g.name)
  end
end

-- One step per machine. Going down (reverse = true: stop, remove) runs
-- group after group in reverse order; syncs run all at once, bounded by
-- each group's max_parallel.
-- hooks = {op=, before=, after=}: the group's before/after actions that
-- name op run around its steps.
local function stage_each(b, site, what, prefix, reverse, extra, only_groups, hooks)
  local list = only_groups or groups(b)
  local start_tail, all_tails = util.copy(b.tail), {}
  for i = reverse and #list or 1, reverse and 1 or #list, reverse and -1 or 1 do
    local g = list[i]
    if not reverse then b.tail = start_tail end
    if hooks and hooks.before then
      actions_chain(b, site, g.before, prefix .. "/" .. g.name .. "/before", g.name, nil, hooks.op)
    end
    local entry, tails = util.copy(b.tail), {}
    for _, mname in ipairs(members(b, g)) do
      local s = machine_step(b, site, what, mname, g.name, prefix .. "/" .. mname .. "/" .. what,
        { deps = entry, chain = prefix .. "/" .. mname .. "/" .. what, limit = group_limit(b.plan, g, site),
          limit_key = prefix .. "/" .. g.name, last = true })
      for k, v in pairs(extra or {}) do s[k] = v end
      tails[#tails + 1] = s.id
    end
    b.tail = tails
    if hooks and hooks.after then
      actions_chain(b, site, g.after, prefix .. "/" .. g.name .. "/after", g.name, nil, hooks.op)
    end
    for _, id in ipairs(b.tail) do all_tails[#all_tails + 1] = id end
  end
  if not reverse then b.tail = all_tails end
end

-- App-consistent replication: per group, every machine's quiesce.before
-- hook, then their syncs (marked app), then the quiesce.after hooks (which
-- run even when a sync failed), so a group's points agree with each other.
local function run_hooks(b, site, g, which)
  return function(step)
    local done = {}
    for _, mname in ipairs(members(b, g)) do
      local q = b.plan.raw.machines[mname].quiesce
      if q and q[which] then
        local scope = M.scope(b.plan, b.rt, site, mname)
        local argv, shown = require("lifeboat.command").argv(q[which], scope)
        require("lifeboat.api").exec(argv, { timeout = q.timeout or 300, show = shown,
          remote = M.remote(b.plan, b.rt, site, mname) })
        done[#done + 1] = mname
      end
    end
    return { machines = done }
  end
end

local function stage_quiesced_sync(b, site)
  for _, g in ipairs(groups(b)) do
    actions_chain(b, site, g.before, "sync/" .. g.name .. "/before", g.name)
    local q = b.add { id = g.name .. "/quiesce", group = g.name, title = "quiesce " .. g.name, kind = "quiesce",
      describe = "quiesce.before of " .. table.concat(members(b, g), ", "), run = run_hooks(b, site, g, "before") }
    b.tail = { q.id }
    stage_each(b, site, "sync", "sync", false, { consistency = "app" }, { g })
    b.add { id = g.name .. "/thaw", group = g.name, title = "thaw " .. g.name, kind = "thaw", always = true,
      describe = "quiesce.after of " .. table.concat(members(b, g), ", "), run = run_hooks(b, site, g, "after") }
    b.tail = { g.name .. "/thaw" }
    actions_chain(b, site, g.after, "sync/" .. g.name .. "/after", g.name)
  end
end

-- A planned switch away from site: stop every machine (reverse group
-- order), then each one's final sync once it is verified down. With
-- --force a failed stop does not stop the job: the sync is crash-consistent.
local function stage_shutdown(b, site)
  local force = (b.rt.args or {}).force
  -- (a stop that --force goes past is asked for, not a failure of the job)
  stage_each(b, site, "stop", "shutdown", true, { on_error = force and "continue" or nil, tolerated = force or nil })
  stage_each(b, site, "sync", "final", false, { consistency = "planned" })
  for _, s in ipairs(b.steps) do
    if s.id:match("^final/.*/sync$") then s.after_stop = "shutdown/" .. s.machine .. "/stop" end
    if s.id:match("^shutdown/.*/stop$") and not force then
      local run = s.run
      s.run = function(step) -- a failed stop says what now
        local ok, r = pcall(run, step)
        if ok then return r end
        error(tostring(r) .. " (so nothing is brought up; --force goes on, the final point crash-consistent)", 0)
      end
    end
  end
end

-- A step that records the plan's state in the store before what follows:
-- the fence that keeps every other site from replicating (sync checks it).
local function fence_step(b, phase, active, source, why)
  if not b.rt.store then return end
  local s = b.add { id = "fence/" .. phase .. "/" .. (source or "none"), title = "fence: " .. why, kind = "fence",
    describe = string.format("record in the store: plan %s, active site %s, %s", phase, active,
      source and ("only " .. source .. " may replicate") or "no site may replicate"),
    run = function(step)
      -- a job of some machines fences them in their own record (state.record_in_store)
      local subset = (b.rt.args or {}).machines
      local st = require("lifeboat.store").fence_set(b.rt, subset and state_mod.subset_key(b.plan) or b.plan.name, {
        phase = phase, active = state_mod.site_of(b.rt.state, active), source = source and state_mod.site_of(b.rt.state, source),
        machines = subset or b.plan.machine_order, job = b.rt.job and b.rt.job.id })
      return { phase = phase, active = active, source = source, seq = st and st.seq }
    end }
  b.tail = { s.id }
end

local function need_site(plan, name, op)
  local s = M.site(plan, name)
  if not s then error(string.format("operation '%s' needs a site named '%s' in the plan", op, name), 0) end
  return s
end

-- The retention step after a replicate's syncs (prune needs the store to itself).
local function retention_step(b, site)
  local retention = (b.plan.raw.policy or {}).retention
  local provider = M.provider(b.plan, site.provider)
  if not retention or provider.noop then return end
  b.add { id = "retention", title = "retention " .. util.fmt_duration(retention), kind = "retention",
    describe = "forget points older than " .. util.fmt_duration(retention) .. " (the newest always stay)",
    run = function(step)
      if provider.retention then
        return provider.retention({ plan = b.plan, job = b.rt.job, step = step, rt = b.rt, site = site }, retention)
      end
      return { points_forgotten = require("lifeboat.store").retention(b.rt, b.plan.machine_order, retention) }
    end }
end

-- The stages an operation's record builds its steps from.
local function stages(b)
  return {
    site = function(role) return need_site(b.plan, state_mod.site_of(b.rt.state, role), b.op) end,
    named_site = function(name) return need_site(b.plan, name, b.op) end,
    up = function(site, restore_kind) return stage_up(b, site, restore_kind) end,
    each = function(site, what, prefix, reverse, extra, hooks)
      return stage_each(b, site, what, prefix, reverse, extra, nil, hooks)
    end,
    shutdown = function(site) return stage_shutdown(b, site) end,
    quiesced_sync = function(site) return stage_quiesced_sync(b, site) end,
    fence = function(phase, active, source, why) return fence_step(b, phase, active, source, why) end,
    retention = function(site) return retention_step(b, site) end,
    both = { before = true, after = true },
  }
end

-- build(plan, op, rt) -> steps; rt carries job, opts and args at run time.
function M.build(plan, op, rt)
  local rec = operations.get(op)
  if not rec then error("unknown operation '" .. tostring(op) .. "'", 0) end
  rt.args = rt.args or {}
  local b = builder(plan, rt, op)
  rec.build(b, stages(b), rt.args)
  return b.steps
end

return M
