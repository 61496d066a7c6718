-- protect.lua: `lifeboat protect PLAN...`, the long-running side. For
-- each plan it runs replicate on the policy's schedule (the same jobs,
-- journals and fencing as `lifeboat replicate`), judges every machine's
-- newest point against the RPO threshold, and raises alerts on changes of
-- state: rpo_breach, rpo_recovered, replication_failed, drill_overdue,
-- plan_invalid. What it knows survives restarts: STATE/protect.json.
local api = require("lifeboat.api")
local json = require("lifeboat.json")
local util = require("lifeboat.util")

local M = {}

local function now() return core.now() end

local function load_sched(dir)
  local text = core.fs.read(dir .. "/protect.json")
  local v = text and json.decode(text)
  if type(v) ~= "table" then v = {} end
  v.breached = v.breached or {}
  v.pending = v.pending or {}
  for _, a in ipairs(v.pending) do a.first = a.first or now() end
  v.backoff = v.backoff or {}
  return v
end

local function save_sched(dir, s)
  assert(core.fs.mkdir(dir))
  assert(core.fs.write(dir .. "/protect.json", json.encode(s, true) .. "\n"))
end

function M.policy(plan)
  local p = plan.raw.policy or {}
  local threshold = p.rpo_threshold or (plan.raw.objectives or {}).rpo
  local every = p.replicate_every or (threshold and threshold / 3) or 3600
  return { threshold = threshold, every = every, drill_every = p.drill_every }
end

-- Alerts: each target of the plan (webhook or command) gets the events it
-- wants, in order. A target that fails is tried again after 5 s, then
-- twice as long each time up to 5 minutes; meanwhile its alerts wait in
-- STATE/protect.json (at most 1,000; one not delivered within a day is
-- dropped, saying so). No try waits more than a few seconds (a webhook
-- 3 s, a command 30 s), and a target that fails is not tried again in
-- the same round: replication is never held up by an alert.
local RETRY_FIRST, RETRY_MAX, GIVE_UP, MAX_PENDING = 5, 300, 86400, 1000

local function send(cli, target, body)
  return pcall(cli.blocking, function()
    if target.webhook then
      local r = api.http { url = target.webhook, method = "POST", body = body, timeout = 3 }
      if r.status < 200 or r.status > 299 then error("HTTP " .. r.status, 0) end
    else
      local env = { LIFEBOAT_EVENT = body.event, LIFEBOAT_PLAN = body.plan, LIFEBOAT_MACHINE = body.machine or "",
        LIFEBOAT_MESSAGE = body.message, LIFEBOAT_ALERT = json.encode(body) }
      local r = api.exec(require("lifeboat.command").argv(target.command, {}), { env = env, timeout = 30, check = false })
      if r.code ~= 0 then error("exited " .. r.code, 0) end
    end
  end)
end

-- Whether target i may be tried now: not backing off, and nothing of its
-- waits (alerts keep their order).
local function ready(e, i, queued_ok)
  local b = e.sched.backoff[tostring(i)]
  if b and now() < b.next then return false end
  if queued_ok then return true end
  for _, a in ipairs(e.sched.pending) do if a.only == i then return false end end
  return true
end

local function tried(e, i, ok)
  local key = tostring(i)
  if ok then e.sched.backoff[key] = nil; return end
  local b = e.sched.backoff[key] or {}
  b.delay = math.min(b.delay and b.delay * 2 or RETRY_FIRST, RETRY_MAX)
  b.next = now() + b.delay
  e.sched.backoff[key] = b
end

local function raise(cli, e, event, machine, message)
  local body = { event = event, plan = e.plan.name, machine = machine, message = message, time = util.iso(now()) }
  cli.say(string.format("alert: %s%s: %s", event, machine and (" " .. machine) or "", message))
  for i, target in ipairs(e.plan.raw.alerts or {}) do
    if not target.events or util.contains(target.events, event) then
      local ok, err = false, "it is waiting to retry earlier alerts"
      if ready(e, i) then
        ok, err = send(cli, target, body)
        tried(e, i, ok)
      end
      if not ok then
        cli.say(string.format("alert: target %d did not take %s (%s); retrying later", i, event, tostring(err)))
        e.sched.pending[#e.sched.pending + 1] = { body = body, only = i, first = now() }
      end
    end
  end
end

local function retry_pending(cli, e)
  local still, failed = {}, {}
  for _, a in ipairs(e.sched.pending) do
    local target = (e.plan.raw.alerts or {})[a.only]
    if not target or now() - (a.first or now()) > GIVE_UP then
      cli.say(string.format("alert: dropped %s for target %d: %s", a.body.event, a.only,
        target and "not delivered within a day" or "the plan has no such target any more"))
    elseif failed[a.only] or not ready(e, a.only, true) then
      still[#still + 1] = a
    else
      local ok = send(cli, target, a.body)
      tried(e, a.only, ok)
      if not ok then failed[a.only] = true; still[#still + 1] = a end
    end
  end
  while #still > MAX_PENDING do
    local a = table.remove(still, 1)
    cli.say(string.format("alert: dropped %s for target %d: more than %d alerts wait", a.body.event, a.only, MAX_PENDING))
  end
  e.sched.pending = still
end

-- Every machine's newest point against the threshold, and the last
-- passing drill against drill_every: alerts on changes only.
local function judge(cli, e)
  local pol = M.policy(e.plan)
  e.plan_state = require("lifeboat.state").load(e.state_dir) -- a drill may have run meanwhile
  if e.rt.store then e.rt.store.info = nil end -- the store may exist since
  local ok, points = pcall(cli.store_points, e.rt)
  if not ok then return end
  local newest = {}
  for _, p in ipairs(points) do newest[p.machine .. "/" .. p.dataset] = p end
  e.ages, e.dataset_ages = {}, {}
  for _, name in ipairs(e.plan.machine_order) do
    local age = 0
    for _, d in ipairs(e.plan.raw.machines[name].datasets or {}) do
      local p = newest[name .. "/" .. d.name]
      local a = p and (now() - (util.parse_time(p.time) or 0)) or math.huge
      e.dataset_ages[name .. "/" .. d.name] = a
      if a > age then age = a end
    end
    e.ages[name] = age < math.huge and age or nil
    if pol.threshold then
      local over = age > pol.threshold
      if over and not e.sched.breached[name] then
        raise(cli, e, "rpo_breach", name, age == math.huge and "no recovery point" or
          string.format("newest point is %s old, over the RPO threshold of %s", util.fmt_duration(age), util.fmt_duration(pol.threshold)))
      elseif not over and e.sched.breached[name] then
        raise(cli, e, "rpo_recovered", name, string.format("newest point is %s old", util.fmt_duration(age)))
      end
      e.sched.breached[name] = over or nil
    end
  end
  if pol.drill_every then
    local last = e.plan_state.last_good_drill and st.last_good_drill.t or nil
    local overdue = not last or now() - last > pol.drill_every
    if overdue and not e.sched.drill_overdue then
      raise(cli, e, "drill_overdue", nil, last and string.format("the last passing drill was %s ago", util.fmt_duration(now() - last))
        or "no drill has passed yet")
    end
    e.sched.drill_overdue = overdue or nil
  end
end

-- What the replicate job ID did: the error it ended with and what each
-- dataset's sync did ({["m/d"] = {seconds, bytes_added, point, walk}}).
local function replicate_result(state_dir, id)
  local out = { syncs = {} }
  if not id then return out end
  for line in (core.fs.read(state_dir .. "/jobs/" .. id .. "/journal.jsonl") or ""):gmatch("[^\n]+") do
    local ev = json.decode(line)
    if type(ev) == "table" and ev.ev == "state" and ev.error then out.error = ev.error end
    if type(ev) == "table" and ev.ev == "done" and type(ev.result) == "table" and type(ev.result.datasets) == "table" then
      local m = ev.step:match("^[^/]+/([^/]+)/sync$")
      for d, r in pairs(ev.result.datasets) do
        if m and type(r) == "table" then
          out.syncs[m .. "/" .. d] = { seconds = r.seconds, bytes_added = r.bytes_added, point = r.point, walk = r.walk }
        end
      end
    end
  end
  return out
end

local function replicate(cli, e)
  local pol = M.policy(e.plan)
  local t0 = now()
  -- after a failover the plan replicates again only once reprotected
  local state = require("lifeboat.state")
  local st = state.load(e.state_dir)
  local refused = state.refusal("replicate", st, {})
  if refused then
    if e.sched.waiting ~= refused then cli.say("protect: " .. e.plan.name .. ": " .. refused) end
    e.sched.waiting, e.sched.next = refused, t0 + pol.every
    return
  end
  e.sched.waiting = nil
  local ok, err = pcall(e.watch.before, e.watch, e.plan, st, cli.say)
  if not ok then cli.say("protect: watching the plan's folders: " .. tostring(err)) end
  -- only this job's points move the watchers on: a point made elsewhere may predate what they saw
  local rc, job_id = cli.operation("replicate", { e.path, "--state", e.state_dir }, e.plan)
  local last = replicate_result(e.state_dir, job_id)
  e.watch:after(last.syncs)
  local s = e.sched
  s.last_run, s.last_seconds = t0, now() - t0
  if rc == 130 then return "interrupted" end
  s.runs_total = (s.runs_total or 0) + 1
  if rc == 0 then
    s.last_ok, s.failures = now(), 0
    for k, v in pairs(last.syncs) do s.syncs = s.syncs or {}; s.syncs[k] = v end
    if s.failing then s.failing = nil end
    s.next = t0 + pol.every
  else
    s.failures = (s.failures or 0) + 1
    s.failures_total = (s.failures_total or 0) + 1
    if not s.failing then
      raise(cli, e, "replication_failed", nil, last.error or ("replicate exited " .. rc))
      s.failing = true
    end
    -- retry sooner than the schedule, never later
    s.next = now() + math.min(15 * 2 ^ (s.failures - 1), pol.every)
  end
end

-- (Re)loads a plan; a plan that no longer validates keeps the last good
-- one and raises plan_invalid once per distinct problem.
local function load(cli, e)
  local st = core.fs.stat(e.path)
  local plan, errs = cli.load_plan("protect", e.path, true)
  if not plan then
    local why = table.concat(require("lifeboat.plan").format_errors(e.path, errs or {}), "; ")
    if not e.plan then return nil, why end
    if e.invalid ~= why then
      e.invalid = why
      raise(cli, e, "plan_invalid", nil, why .. " (the last good plan stays in force)")
    end
    e.mtime = st and st.mtime
    return e.plan
  end
  e.invalid = nil
  e.plan, e.mtime = plan, st and st.mtime
  e.rt = { args = {}, opts = {} }
  if e.state_dir then cli.prepare(plan, "protect", e.rt, e.state_dir) end
  return plan
end

-- The metrics of every plan, published for GET /metrics.
local function publish(entries)
  local set = require("lifeboat.metrics").new()
  for _, e in ipairs(entries) do
    local plan, pol, s = e.plan, M.policy(e.plan), e.sched
    for _, name in ipairs(plan.machine_order) do
      for _, d in ipairs(plan.raw.machines[name].datasets or {}) do
        local key, l = name .. "/" .. d.name, { plan = plan.name, machine = name, dataset = d.name }
        set.add("lifeboat_point_age_seconds", "gauge", "Age of the dataset's newest recovery point (+Inf: none).", l,
          (e.dataset_ages or {})[key])
        local sync = (s.syncs or {})[key] or {}
        set.add("lifeboat_last_sync_duration_seconds", "gauge", "Duration of the dataset's last successful sync.", l, sync.seconds)
        set.add("lifeboat_last_sync_bytes_added", "gauge", "Bytes the dataset's last successful sync added to the store.", l, sync.bytes_added)
      end
      local l = { plan = plan.name, machine = name }
      set.add("lifeboat_rpo_threshold_seconds", "gauge", "The plan's RPO threshold.", l, pol.threshold)
      if pol.threshold then
        set.add("lifeboat_rpo_breached", "gauge", "1 while the machine's newest point is older than the RPO threshold.", l,
          s.breached[name] and 1 or 0)
      end
    end
    local l = { plan = plan.name }
    set.add("lifeboat_replicate_runs_total", "counter", "Replicate jobs the service ran.", l, s.runs_total or 0)
    set.add("lifeboat_sync_failures_total", "counter", "Replicate jobs that failed.", l, s.failures_total or 0)
    set.add("lifeboat_plan_valid", "gauge", "0 while the plan file does not validate (the last good plan runs).", l, e.invalid and 0 or 1)
    local drill = e.plan_state.last_good_drill
    if drill and drill.t then
      set.add("lifeboat_last_passing_drill_age_seconds", "gauge", "Age of the plan's last passing drill.", l, now() - drill.t)
    end
  end
  require("lifeboat.metrics").process(set)
  core.metrics_publish(set.text())
end

-- One line for `systemctl status`: machines within their RPO, and the next sync.
local function status_line(entries)
  local machines, breached, wake = 0, 0, math.huge
  for _, e in ipairs(entries) do
    for _, name in ipairs(e.plan.machine_order) do
      machines = machines + 1
      if e.sched.breached[name] then breached = breached + 1 end
    end
    wake = math.min(wake, e.sched.next or wake)
  end
  return string.format("%d plan(s), %d of %d machine(s) within their RPO; next sync in %s", #entries,
    machines - breached, machines, wake < math.huge and util.fmt_duration(math.max(0, wake - now())) or "-")
end

-- "ADDR:PORT" or "PORT" (loopback) -> addr, port | nil
local function listen_spec(text)
  local addr, port = text:match("^([%d.]*):(%d+)$")
  if not addr then port = text:match("^(%d+)$") end
  if not port then return nil end
  return (addr and addr ~= "") and addr or "127.0.0.1", math.tointeger(tonumber(port))
end

function M.main(args, cli)
  local opts, pos, code = cli.parse("protect", args, { "once" }, { "state", "metrics" })
  if not opts then return code end
  local maddr, mport
  if opts.metrics then
    maddr, mport = listen_spec(opts.metrics)
    if not maddr then cli.errln("protect", "--metrics %s is not ADDR:PORT (e.g. 127.0.0.1:9487)", opts.metrics); return cli.EXIT.bad end
  end
  if #pos == 0 then cli.errln("protect", "a plan file is needed (see 'lifeboat protect --help')"); return cli.EXIT.bad end
  if opts.state and #pos > 1 then cli.errln("protect", "--state is for one plan"); return cli.EXIT.bad end
  local entries = {}
  for _, path in ipairs(pos) do
    local e = { path = path }
    local plan, why = load(cli, e)
    if not plan then cli.errln("protect", "%s", why); return cli.EXIT.bad end
    e.state_dir = require("lifeboat.job").state_dir(plan.file, opts.state)
    assert(core.fs.mkdir(e.state_dir))
    e.lock = core.fs.lock(e.state_dir .. "/protect.lock")
    if not e.lock then
      cli.errln("protect", "plan %s is protected by another lifeboat protect (%s/protect.lock is held)", plan.name, e.state_dir)
      return cli.EXIT.bad
    end
    cli.prepare(plan, "protect", e.rt, e.state_dir)
    e.sched = load_sched(e.state_dir)
    e.watch = require("lifeboat.watch").new(e.state_dir)
    e.plan_state = require("lifeboat.state").load(e.state_dir)
    -- a new schedule starts within a tenth of the interval (at most 30 s),
    -- so plans started together do not sync together
    e.sched.next = e.sched.next or (now() + math.random() * math.min(M.policy(plan).every / 10, 30))
    entries[#entries + 1] = e
  end
  if maddr then
    local ok, e = core.metrics_listen(maddr, mport)
    if not ok then cli.errln("protect", "--metrics: %s", e); return cli.EXIT.bad end
    publish(entries)
  end
  core.catch_hup()
  cli.say(string.format("protect: %d plan(s)%s", #entries, opts.once and ", one round" or ""))
  -- for systemd (Type=notify): the locks are held and /metrics answers
  core.notify(string.format("READY=1\nSTATUS=protecting %d plan(s)", #entries))
  while true do
    local reload = core.hup()
    for _, e in ipairs(entries) do
      local st = core.fs.stat(e.path)
      if reload or (st and st.mtime ~= e.mtime) then load(cli, e) end
      if opts.once or now() >= e.sched.next then
        if replicate(cli, e) == "interrupted" then save_sched(e.state_dir, e.sched); break end
      end
      judge(cli, e)
      retry_pending(cli, e)
      e.sched.ages = e.ages
      save_sched(e.state_dir, e.sched)
    end
    if maddr then publish(entries) end
    core.notify("STATUS=" .. status_line(entries))
    if opts.once or core.interrupted() then break end
    local wake = math.huge
    for _, e in ipairs(entries) do wake = math.min(wake, e.sched.next) end
    -- judge at least every 10 s between syncs: a point ages while nothing runs
    local _, interrupted = core.poll(math.max(0.05, math.min(wake - now(), maddr and 5 or 10)))
    if interrupted then break end
  end
  core.notify("STOPPING=1")
  for _, e in ipairs(entries) do e.watch:close(); e.lock:close() end
  return cli.EXIT.done
end

return M
