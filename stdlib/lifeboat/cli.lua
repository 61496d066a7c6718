-- cli.lua: the plan commands (validate, show, schema, run, the operations,
-- resume, approve, jobs, job, report, status). Exit codes: 0 done, 1
-- failed or done with failures, 2 bad input, 3 paused for a manual step, 130 interrupted.
local api = require("lifeboat.api")
local job_mod = require("lifeboat.job")
local json = require("lifeboat.json")
local operations = require("lifeboat.operations")
local ops = require("lifeboat.ops")
local out = require("lifeboat.out")
local plan_mod = require("lifeboat.plan")
local sandbox = require("lifeboat.sandbox")
local sched = require("lifeboat.sched")
local schema = require("lifeboat.schema")
local secrets = require("lifeboat.secrets")
local state_mod = require("lifeboat.state")
local store = require("lifeboat.store")
local report = require("lifeboat.report")
local util = require("lifeboat.util")

local M = {}
local EXIT = { done = 0, failed = 1, bad = 2, paused = 3, interrupted = 130 }

local function errln(cmd, fmt, ...)
  core.write(2, out.shown(string.format("lifeboat %s: " .. fmt, cmd, ...)) .. "\n")
end
local function say(s) core.write(1, secrets.redact(s) .. "\n") end

local OP_FLAGS = "  --dry-run       print the exact steps and what each would do; change nothing\n" ..
  "  --yes           approve every manual step\n" ..
  "  --json          one JSON object per event on stdout\n" ..
  "  --state DIR     the plan's state folder (default: .lifeboat beside the plan, or LIFEBOAT_STATE)\n" ..
  "  --note TEXT     an observation kept with the job and shown in its report\n"

local SUBSET_FLAGS = "  --machines A,B  only these machines (with --group NAME: that group's); a machine\n" ..
  "                  one of them depends on must be among them, unless --ignore-depends-on\n"
local POINT_FLAG = "  --point P       the point to restore: latest (default), latest-app, latest-consistent\n" ..
  "                  (one replicate run for each consistency group), an id, a time or an age\n" ..
  "                  like 2h; per machine: db=ID,web=latest-app (an item without = for the rest)\n"

local help = {
  validate = "usage: lifeboat validate PLAN [--json]\n\nChecks a plan and reports every problem as FILE:LINE:COL: message.\nExit 0 when it is valid, 2 when not.\n",
  show = "usage: lifeboat show PLAN [--op OP] [--planned] [--keep] [--dot] [--json]\n\n" ..
    "Prints the steps an operation (default: drill) would run, in order; steps in the\nsame wave run in parallel. --dot prints a Graphviz graph.\n",
  schema = "usage: lifeboat schema\n\nPrints the JSON Schema of the plan format (for editors).\n",
  run = "usage: lifeboat run SCRIPT.lua [ARGS...]\n\nRuns a Lua script with the lifeboat API (exec, http, json, fs, log, now, sleep,\nwait_until, secret) in the plan sandbox; ARGS are in `arg`. Exit 1 when it raises.\n",
  status = "usage: lifeboat status PLAN [--json] [--state DIR]\n\nThe active site, each machine's protection (newest point and its age against\npolicy.rpo_threshold), and the last passing drill.\n",
  resume = "usage: lifeboat resume ID [--force] [--yes] [--json] [--state DIR]\n\nContinues a job that failed, paused, was interrupted or whose process died.\nFinished steps are not run again. A changed plan is refused unless --force.\n",
  approve = "usage: lifeboat approve ID [STEP] [--state DIR]\n\nApproves a job's waiting manual step (all of them without STEP); then\n'lifeboat resume ID' continues a paused job.\n",
  cancel = "usage: lifeboat cancel ID [--wait DURATION] [--json] [--state DIR]\n\n" ..
    "Cancels a job: a running one (in another shell) stops its running steps within a\n" ..
    "second, skips the rest and runs its clean-up steps (a drill's stop and remove);\n" ..
    "for a paused, failed or interrupted job the clean-up steps run here. The job ends\n" ..
    "cancelled and cannot be resumed. Waits up to --wait (default 1m) for a running job.\n" ..
    "Exit 0 when the job ended cancelled with its clean-up done, 1 when a clean-up step\n" ..
    "failed or the job did not stop in time.\n",
  jobs = "usage: lifeboat jobs [--json] [--state DIR]\n\nLists recent jobs: id, plan, operation, state, duration.\n",
  job = "usage: lifeboat job ID [--json] [--state DIR]\n" ..
    "       lifeboat job ID note TEXT [--by NAME]\n       lifeboat job ID sign --by NAME\n\n" ..
    "Shows a job's steps with state, timing and error, the warnings and errors its steps\n" ..
    "logged, its notes and sign-offs. note: adds an observation (by NAME, default $USER);\n" ..
    "sign: signs the finished job off. Both are kept in the journal and written into the\n" ..
    "job's reports (report.json, .md, .html) at once.\n",
  report = "usage: lifeboat report ID [--state DIR]\n\nPrints where a job's reports are.\n",
  protect = "usage: lifeboat protect PLAN... [--once] [--metrics [ADDR:]PORT] [--state DIR]\n\n" ..
    "Keeps each plan within its RPO: replicates on policy.replicate_every (default a\n" ..
    "third of rpo_threshold; app-consistent points on app_consistent_every), retries a\n" ..
    "failed replicate sooner (never later than the schedule), and raises the plan's\n" ..
    "alerts on changes: rpo_breach, rpo_recovered, replication_failed, drill_overdue,\n" ..
    "plan_invalid. Runs until SIGTERM or Ctrl-C (a sync in progress is cancelled as\n" ..
    "Ctrl-C cancels one); SIGHUP or a changed plan file reloads the plan (one that no\n" ..
    "longer validates keeps the last good one). --once: one round, then exit (cron).\n" ..
    "What it knows is in STATE/protect.json; 'lifeboat status PLAN' shows it.\n" ..
    "--metrics: Prometheus metrics at http://ADDR:PORT/metrics (ADDR default 127.0.0.1).\n",
  import = "usage: lifeboat import asr FILE.json [-o PLAN.yaml] [--force]\n\n" ..
    "Writes a lifeboat plan equivalent to an Azure Site Recovery recovery plan (the JSON\n" ..
    "that 'az site-recovery recovery-plan show' or the REST API returns): machines named\n" ..
    "after the protected items, the Boot groups in order, script actions as exec steps,\n" ..
    "manual actions as manual steps, runbooks as webhook calls you fill in, failover\n" ..
    "types and directions as only: filters. What cannot be carried over is listed on\n" ..
    "stderr and as comments in the plan. Without -o the plan goes to stdout; an existing\n" ..
    "PLAN.yaml is kept unless --force. Exit 0 when written, 2 on bad input.\n",
  agent = "usage: lifeboat agent status|install PLAN [--site NAME] [--json] [--state DIR]\n\n" ..
    "The lifeboat on each host of the plan's ssh sites (all of them, or --site NAME).\n" ..
    "status: its version, whether it is this very binary, the host's machine type and\n" ..
    "how far its clock is from this host's. install: copies this binary there (jobs\n" ..
    "do it too, the first time they need a host, unless the site says agent_install:\n" ..
    "false). Exit 0 when every host answered (and took it), 1 when one did not.\n",
}
for _, rec in ipairs(operations.all()) do
  help[rec.name] = "usage: " .. rec.usage .. "\n\n" .. rec.help .. "\n\n" .. (util.contains(rec.values, "point") and POINT_FLAG or "") ..
    (rec.subset and SUBSET_FLAGS or "") .. OP_FLAGS
end

-- parse(cmd, args, flags, values) -> opts, positional | nil (usage printed)
local function parse(cmd, args, flags, values)
  local opts, pos = {}, {}
  local i = 1
  while i <= #args do
    local a = args[i]
    if a == "--help" or a == "-h" then core.write(1, help[cmd]); return nil, nil, 0 end
    if a:sub(1, 2) == "--" then
      local name, inline = a:match("^%-%-([%w%-]+)=(.*)$")
      name = name or a:sub(3)
      local key = name:gsub("%-", "_")
      if util.contains(flags, name) and not inline then opts[key] = true
      elseif util.contains(values, name) then
        local v = inline or args[i + 1]
        if not inline then i = i + 1 end
        if v == nil then errln(cmd, "--%s needs a value", name); return nil, nil, EXIT.bad end
        opts[key] = v
      else
        local takers = operations.taking(name)
        if #takers > 0 then errln(cmd, "--%s is for %s", name, util.and_list(takers))
        else errln(cmd, "unknown option '%s' (see 'lifeboat %s --help')", a, cmd) end
        return nil, nil, EXIT.bad
      end
    else
      pos[#pos + 1] = a
    end
    i = i + 1
  end
  return opts, pos
end

local function load_plan(cmd, path, quiet)
  if not path then errln(cmd, "a plan file is needed (see 'lifeboat %s --help')", cmd); return nil end
  local plan, errs, file = plan_mod.load(path)
  if not plan then
    if not quiet then
      for _, l in ipairs(plan_mod.format_errors(file, errs)) do core.write(2, l .. "\n") end
    end
    return nil, errs
  end
  if plan.raw.secrets and plan.raw.secrets.file then secrets.file = util.join(plan.dir, plan.raw.secrets.file) end
  return plan
end

------------------------------------------------------------------------

function M.validate(args)
  local opts, pos, code = parse("validate", args, { "json" }, {})
  if not opts then return code end
  if #pos ~= 1 then errln("validate", "one plan file is needed"); return EXIT.bad end
  local plan, errs = load_plan("validate", pos[1], opts.json)
  if opts.json then
    local list = json.array()
    for _, e in ipairs(errs or {}) do list[#list + 1] = { file = pos[1], line = e.line, col = e.col, message = e.msg } end
    say(json.encode { valid = plan ~= nil, errors = list })
  elseif plan then
    say(string.format("%s: valid (%d machines in %d groups)", pos[1], #plan.machine_order, #plan.raw.groups))
  end
  return plan and EXIT.done or EXIT.bad
end

function M.schema(args)
  local opts, _, code = parse("schema", args, {}, {})
  if not opts then return code end
  say(json.encode(schema.json_schema(), true))
  return EXIT.done
end

-- Waves: steps whose dependencies are all in earlier waves run together.
local function waves(steps)
  local wave, by_id = {}, {}
  for _, s in ipairs(steps) do by_id[s.id] = s end
  local list = {}
  for _, s in ipairs(steps) do
    local w = 1
    for _, d in ipairs(s.deps) do if wave[d] then w = math.max(w, wave[d] + 1) end end
    wave[s.id] = w
    list[w] = list[w] or {}
    table.insert(list[w], s)
  end
  return list, wave
end

local function print_steps(plan, op, steps, dry)
  local list = waves(steps)
  say(string.format("%s of plan '%s': %d steps in %d waves%s", op, plan.name, #steps, #list,
    dry and " (dry run: nothing is changed)" or ""))
  for w, ss in ipairs(list) do
    local limit
    for _, s in ipairs(ss) do if s.limit and s.limit < #ss then limit = math.min(limit or s.limit, s.limit) end end
    say(string.format("wave %d%s", w, #ss > 1 and string.format(" (%d in parallel%s)", #ss,
      limit and (", " .. limit .. " machines at a time") or "") or ""))
    for _, s in ipairs(ss) do
      local flags = {}
      if s.timeout then flags[#flags + 1] = "timeout " .. util.fmt_duration(s.timeout) end
      if s.retries then flags[#flags + 1] = "retries " .. s.retries end
      if s.on_error then flags[#flags + 1] = "on_error " .. s.on_error end
      if s.always then flags[#flags + 1] = "always" end
      say(string.format("  %-34s %s%s", s.id, s.describe or s.title,
        #flags > 0 and ("  [" .. table.concat(flags, ", ") .. "]") or ""))
    end
  end
end

-- The job's arguments (kept in its journal for resume): the options its
-- operation's record takes.
local function op_args(op, opts)
  local rec, args = operations.get(op), {}
  for _, list in ipairs({ rec.flags, rec.values }) do
    for _, name in ipairs(list) do
      local key = name:gsub("%-", "_")
      args[key] = opts[key] or nil
    end
  end
  return args
end

-- The machines --machines A,B or --group NAME name, in the plan's order
-- (nil: all), or nil and why not. A subset that leaves out a machine one
-- of its machines depends on is refused unless --ignore-depends-on.
local function chosen_machines(plan, op, opts)
  if not opts.machines and not opts.group then return nil end
  if not operations.get(op).subset then
    return nil, "--machines and --group are for " .. util.and_list(operations.taking("machines")) ..
      " (what follows a failover of some machines runs on those)"
  end
  if opts.machines and opts.group then return nil, "--machines or --group, not both" end
  local want = {}
  if opts.group then
    local g
    for _, x in ipairs(plan.raw.groups) do if x.name == opts.group then g = x end end
    if not g then
      local names = {}
      for _, x in ipairs(plan.raw.groups) do names[#names + 1] = x.name end
      return nil, string.format("the plan has no group '%s' (groups: %s)", opts.group, table.concat(names, ", "))
    end
    for _, m in ipairs(g.machines) do want[m] = true end
  else
    for name in (opts.machines .. ","):gmatch("([^,]*),") do
      if not plan.raw.machines[name] then
        local near = util.nearest(name, plan.machine_order)
        return nil, string.format("the plan has no machine '%s'%s", name, near and (", did you mean '" .. near .. "'?") or "")
      end
      want[name] = true
    end
  end
  local list = {}
  for _, m in ipairs(plan.machine_order) do
    if want[m] then
      list[#list + 1] = m
      for _, dep in ipairs(op ~= "replicate" and plan.raw.machines[m].depends_on or {}) do
        if not want[dep] and not opts.ignore_depends_on then
          return nil, string.format("%s depends on %s, which is not among the machines: add it, or " ..
            "--ignore-depends-on to bring %s up without it", m, dep, m)
        end
      end
    end
  end
  return list
end

local NO_JOURNAL = { id = "-", event = function() end, flush = function() end, log = function() end,
  approvals = function() return {} end }
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
local function adopt_store_state(plan, rt)
  if not rt.store then return end
  local ok, rec = pcall(blocking, function() return store.exists(rt) and store.fence_get(rt, plan.name) end)
  if not ok or type(rec) ~= "table" then return end
  if rec.phase ~= rt.state.phase or rec.active ~= state_mod.site_of(rt.state, rt.state.active) then
    rt.state.phase, rt.state.active = rec.phase, state_mod.role_of(rt.state, rec.active)
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

function M.show(args)
  local opts, pos, code = parse("show", args, { "dot", "json", "planned", "keep", "ignore-depends-on" },
    { "op", "point", "machines", "group" })
  if not opts then return code end
  if #pos ~= 1 then errln("show", "one plan file is needed"); return EXIT.bad end
  local op = opts.op or "drill"
  if not operations.get(op) then
    errln("show", "unknown operation '%s' (one of %s)", op, table.concat(schema.ops, ", "))
    return EXIT.bad
  end
  local plan = load_plan("show", pos[1])
  if not plan then return EXIT.bad end
  local args = op_args(op, opts)
  local why
  args.machines, why = chosen_machines(plan, op, opts)
  if why then errln("show", "%s", why); return EXIT.bad end
  local ok, steps = pcall(ops.build, plan, op, { args = args, opts = {} })
  if not ok then errln("show", "%s", steps); return EXIT.bad end
  if opts.dot then
    say("digraph \"" .. plan.name .. " " .. op .. "\" {\n  rankdir=LR;\n  node [shape=box, fontname=\"sans-serif\"];")
    local groups = {}
    for _, s in ipairs(steps) do
      groups[s.group or ""] = groups[s.group or ""] or {}
      table.insert(groups[s.group or ""], s)
    end
    local gi = 0
    for _, g in ipairs(util.sorted_keys(groups)) do
      gi = gi + 1
      say(string.format("  subgraph cluster_%d {\n    label=%q;", gi, g))
      for _, s in ipairs(groups[g]) do say(string.format("    %q [label=%q];", s.id, s.id .. "\n" .. s.title)) end
      say("  }")
    end
    for _, s in ipairs(steps) do
      for _, d in ipairs(s.deps) do say(string.format("  %q -> %q;", d, s.id)) end
    end
    say("}")
  elseif opts.json then
    local _, wave = waves(steps)
    local list = json.array()
    for _, s in ipairs(steps) do
      list[#list + 1] = { id = s.id, title = s.title, describe = s.describe, group = s.group, machine = s.machine,
        deps = json.array(s.deps), wave = wave[s.id], always = s.always or nil, timeout = s.timeout,
        retries = s.retries, on_error = s.on_error }
    end
    say(json.encode { plan = plan.name, op = op, steps = list })
  else
    print_steps(plan, op, steps, false)
  end
  return EXIT.done
end

------------------------------------------------------------------------
-- running jobs

-- Secrets the plan's expressions name (secret.NAME or secret("NAME")).
local function referenced_secrets(plan)
  local text = core.fs.read(plan.file) or ""
  local names = {}
  for n in text:gmatch("secret%.([%a_][%w_]*)") do names[n] = true end
  for n in text:gmatch("secret%s*%(%s*[\"']([^\"']+)[\"']%s*%)") do names[n] = true end
  return util.sorted_keys(names)
end

-- Runs fn() as a one-step job without a journal, so it may block (exec,
-- http): returns the scheduler's result and the step (value, error).
local function store_points(rt) return blocking(function() return store.points(rt) end) end
-- whether the plan's store exists (false, with the reason kept, when it cannot be reached)
local function store_exists(rt)
  local ok, v = pcall(blocking, function() return store.exists(rt) end)
  if not ok then rt.store_error = v end
  return ok and v
end

-- The job ID names, from --state, LIFEBOAT_STATE or ./.lifeboat; nil after saying why not.
local function open_job(cmd, opts, id)
  local state = job_mod.state_dir(nil, opts.state)
  local job, e = job_mod.open(state, id)
  if not job then errln(cmd, "%s", e) end
  return job, state
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
      for _, name in ipairs(rt.args.machines or plan.machine_order) do
        for _, d in ipairs(plan.raw.machines[name].datasets or {}) do
          local p = have[name .. "/" .. d.name]
          if not p then
            problems[#problems + 1] = string.format("no recovery point of %s/%s in the store: run 'lifeboat replicate PLAN' first", name, d.name)
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

local function run_steps(job, plan, steps, opts, done, rt)
  out.setup { json = opts.json, total = #steps, job = job }
  api.sink = function(step, text, level)
    if step then job:log(step.id, (level ~= "info" and ("[" .. level .. "] ") or "") .. text .. "\n") end
    if step and level ~= "info" then job:message(step.id, level, text) end
    out.log(step, text, level)
  end
  api.step_log = function(step, text) job:log(step.id, text) end
  out.line(string.format("job %s: %s of plan '%s', %d steps (journal: %s)", job.id, job.op, plan.name, #steps,
    job.journal))
  local started = core.now()
  local ran, result, failed = pcall(sched.run, job, steps, { on_event = out.event, done = done,
    cancelled = function() return job:cancel_requested() end })
  if not ran then
    -- a defect of lifeboat's own: the job must not look like it still runs
    pcall(function()
      job:event { ev = "state", state = "failed", error = "internal error: " .. tostring(result) }
      job:flush()
    end)
    out.finish()
    error(result, 0)
  end
  local err
  for _, s in ipairs(failed) do if not s.continued then err = s.id .. ": " .. tostring(s.error) break end end
  local failures = {} -- steps that failed under on_error: continue, in this run or before a resume
  for _, s in ipairs(steps) do
    if s.state == "failed" and s.continued and not s.tolerated then failures[#failures + 1] = s.id end
  end
  if result == "done" and #failures > 0 then job.failures = #failures end
  local summary = report.summarize(job, plan, steps, job_mod.state_label(result, job.failures), err, rt)
  job:event { ev = "state", state = result, error = err, secs = core.now() - started, rto = summary.rto,
    failures = job.failures }
  job:flush()
  out.finish()
  if rt and rt.state_dir and (result == "done" or result == "failed") then
    job.rto = summary.rto
    local st = state_mod.apply(job.op, state_mod.load(rt.state_dir), job, rt.args, result == "done", rt)
    state_mod.save(rt.state_dir, st)
    local rec_ok, rec_err = pcall(blocking, function() state_mod.record_in_store(rt, plan, st, job.id) end)
    if not rec_ok then
      say(out.paint("33", "warning: the plan's state could not be recorded in the store: " .. out.shown(rec_err)))
    end
  end
  local files = report.write(job, plan, summary)
  for _, f in ipairs(files) do out.line("report: " .. f) end
  if opts.json then
    say(json.encode { ev = "end", job = job.id, state = result, error = err, failures = job.failures })
  elseif job.failures then
    say(out.paint("31", string.format("job %s done with failures in %s: %s failed (on_error: continue)", job.id,
      util.fmt_duration(core.now() - started), table.concat(failures, ", "))))
  elseif result == "done" then
    say(out.paint("32", string.format("job %s done in %s", job.id, util.fmt_duration(core.now() - started))))
  elseif result == "paused" then
    local waiting = {}
    for _, s in ipairs(steps) do if s.state == "waiting" then waiting[#waiting + 1] = s.id end end
    say(out.paint("33", string.format("job %s paused at %s; continue with: lifeboat approve %s && lifeboat resume %s",
      job.id, table.concat(waiting, ", "), job.id, job.id)))
  elseif result == "interrupted" then
    say(out.paint("33", string.format("job %s interrupted; continue with: lifeboat resume %s", job.id, job.id)))
  elseif result == "cancelled" then
    say(out.paint("33", string.format("job %s cancelled%s", job.id,
      err and (": a clean-up step failed: " .. out.shown(err)) or "; its clean-up steps ran")))
  else
    say(out.paint("31", string.format("job %s failed: %s", job.id, err and out.shown(err) or "see 'lifeboat job " .. job.id .. "'")))
  end
  if job.failures then return EXIT.failed end
  return EXIT[result] or EXIT.failed
end

local function lock_state(cmd, state)
  local ok, e = core.fs.mkdir(state)
  if not ok then errln(cmd, "%s", e); return nil end
  local lock, le = core.fs.lock(state .. "/lock")
  if not lock then
    errln(cmd, "another lifeboat job is running on this plan (%s is locked)", state)
    return nil, le
  end
  return lock
end

local function interactive() return core.isatty(0) and core.isatty(2) end
local function whoami() return core.getenv("LIFEBOAT_USER") or core.getenv("USER") or "unknown" end

-- plan: the plan already loaded (protect keeps running the last good one
-- while its file does not validate)
function M.operation(op, args, loaded)
  local rec = operations.get(op)
  local flags, values = { "dry-run", "yes", "json", table.unpack(rec.flags) }, { "state", "note", table.unpack(rec.values) }
  if rec.subset then
    flags[#flags + 1] = "ignore-depends-on"
    values[#values + 1] = "machines"; values[#values + 1] = "group"
  end
  local opts, pos, code = parse(op, args, flags, values)
  if not opts then return code end
  if #pos ~= 1 then errln(op, "one plan file is needed (see 'lifeboat %s --help')", op); return EXIT.bad end
  local misfit = rec.check and rec.check(opts)
  if misfit then errln(op, "%s", misfit); return EXIT.bad end
  local plan = loaded or load_plan(op, pos[1])
  if not plan then return EXIT.bad end
  local rt = { args = op_args(op, opts), opts = { yes = opts.yes, interactive = interactive() } }
  local machines, why = chosen_machines(plan, op, opts)
  if why then errln(op, "%s", why); return EXIT.bad end
  local _, perr = store.parse_point_spec(opts.point, plan.machine_order)
  if perr then errln(op, "%s", perr); return EXIT.bad end
  local state = job_mod.state_dir(plan.file, opts.state)
  prepare(plan, op, rt, state)
  local refused = state_mod.refusal(op, rt.state, rt.args)
  if refused and rt.state.from_store then refused = refused .. " (the plan's state " .. rt.state.from_store .. ")" end
  if refused then errln(op, "%s", refused); return EXIT.bad end
  local derived = state_mod.machines_for(op, rt.state, plan)
  if derived and machines then
    errln(op, "the plan failed over %s only: %s runs on %s", table.concat(rt.state.subset, ", "), op,
      table.concat(derived, ", "))
    return EXIT.bad
  end
  rt.args.machines = machines or derived
  if rt.args.machines and #rt.args.machines == 0 then
    errln(op, "no machine to %s: every machine of the plan failed over", op); return EXIT.bad
  end
  local ok, steps = pcall(ops.build, plan, op, rt)
  if not ok then errln(op, "%s", steps); return EXIT.bad end
  local problems = preflight(plan, op, steps, rt)
  if rt.store and rec.needs_store and not store_exists(rt) then
    problems[#problems + 1] = string.format("the store %s does not exist: run 'lifeboat replicate PLAN' first",
      rt.store.url)
  end
  if opts.dry_run then
    print_steps(plan, op, steps, true)
    for _, p in ipairs(problems) do errln(op, "preflight: %s", p) end
    for _, w in ipairs(rt.warnings or {}) do say("preflight: warning: " .. w) end
    say(#problems == 0 and "preflight: ok" or string.format("preflight: %d problem(s)", #problems))
    return #problems == 0 and EXIT.done or EXIT.bad
  end
  if #problems > 0 then
    for _, p in ipairs(problems) do errln(op, "preflight: %s", p) end
    return EXIT.bad
  end
  local lock = lock_state(op, state)
  if not lock then return EXIT.bad end
  rt.state = state_mod.load(state) -- again, under the lock
  refused = state_mod.refusal(op, rt.state, rt.args)
  if refused then lock:close(); errln(op, "%s", refused); return EXIT.bad end
  if op == "replicate" then -- the first replication creates the store
    local ok, e = pcall(blocking, function() store.ensure(rt) end)
    if not ok then lock:close(); errln(op, "cannot create the store %s: %s", rt.store.url, e); return EXIT.failed end
  end
  local job = job_mod.create(state, op, plan, rt.args)
  if opts.note then job:note(opts.note, whoami()) end
  rt.job = job
  local rc = run_steps(job, plan, steps, opts, nil, rt)
  lock:close()
  return rc, job.id
end

function M.resume(args)
  local opts, pos, code = parse("resume", args, { "force", "yes", "json" }, { "state" })
  if not opts then return code end
  if #pos ~= 1 then errln("resume", "a job id is needed"); return EXIT.bad end
  local job, state = open_job("resume", opts, pos[1])
  if not job then return EXIT.bad end
  if job.state == "done" then say(string.format("job %s is already done", job.id)); return EXIT.done end
  if job.state == "cancelled" then errln("resume", "job %s was cancelled: start a new one", job.id); return EXIT.bad end
  local plan = load_plan("resume", job.plan)
  if not plan then return EXIT.bad end
  if plan.sha ~= job.plan_sha and not opts.force then
    errln("resume", "the plan %s changed since job %s started; resume with --force to run the changed plan",
      job.plan, job.id)
    return EXIT.bad
  end
  local lock = lock_state("resume", state)
  if not lock then return EXIT.bad end
  local rt = { args = job.args or {}, opts = { yes = opts.yes, interactive = interactive() }, job = job }
  prepare(plan, job.op, rt, state)
  local ok, steps = pcall(ops.build, plan, job.op, rt)
  if not ok then errln("resume", "%s", steps); return EXIT.bad end
  local done = {}
  for id, s in pairs(job.steps) do
    if s.state == "done" or (s.state == "failed" and s.continued) then done[id] = s end
  end
  job:event { ev = "resumed", forced = opts.force or nil, plan_sha = plan.sha }
  local rc = run_steps(job, plan, steps, opts, done, rt)
  lock:close()
  return rc
end

-- cancel ID: a job that runs now stops its steps, skips what is left and
-- runs its clean-up steps (the running process does that, within a
-- second); a paused, failed or interrupted job gets its clean-up steps run
-- here. Either way it ends cancelled, not to be resumed.
function M.cancel(args)
  local opts, pos, code = parse("cancel", args, { "json" }, { "state", "wait" })
  if not opts then return code end
  if #pos ~= 1 then errln("cancel", "a job id is needed"); return EXIT.bad end
  local wait = opts.wait and util.parse_duration(opts.wait) or (not opts.wait and 60)
  if not wait then errln("cancel", "--wait must be a duration like 30s, not '%s'", opts.wait); return EXIT.bad end
  local job, state = open_job("cancel", opts, pos[1])
  if not job then return EXIT.bad end
  if job.state == "done" or job.state == "cancelled" then
    errln("cancel", "job %s is %s already: there is nothing to cancel", job.id, job.state); return EXIT.bad
  end
  job:request_cancel(whoami())
  local lock = core.fs.lock(state .. "/lock")
  if not lock then
    -- another process holds the plan: the job's own, which sees the request
    say(string.format("job %s: cancel requested; waiting up to %s for it to stop", job.id, util.fmt_duration(wait)))
    local deadline = core.mono() + wait
    while core.mono() < deadline do
      local j = job_mod.open(state, job.id)
      if j and j.state ~= "running" then
        say(string.format("job %s %s", j.id, j.state))
        return j.state == "cancelled" and not j.error and EXIT.done or EXIT.failed
      end
      blocking(function() require("lifeboat.api").sleep(0.2) end)
    end
    errln("cancel", "job %s did not stop within %s (the plan's state folder is held by another process; the " ..
      "request stays in %s)", job.id, util.fmt_duration(wait), job:cancel_path())
    return EXIT.failed
  end
  local plan = load_plan("cancel", job.plan)
  if not plan then lock:close(); return EXIT.bad end
  local rt = { args = job.args or {}, opts = { yes = true, interactive = false }, job = job }
  prepare(plan, job.op, rt, state)
  local ok, steps = pcall(ops.build, plan, job.op, rt)
  if not ok then lock:close(); errln("cancel", "%s", steps); return EXIT.bad end
  local done = {}
  for id, s in pairs(job.steps) do
    if s.state == "done" or (s.state == "failed" and s.continued) then done[id] = s end
  end
  job:event { ev = "resumed", cancel = true }
  run_steps(job, plan, steps, opts, done, rt)
  lock:close()
  local j = job_mod.open(state, job.id)
  return j and j.state == "cancelled" and not j.error and EXIT.done or EXIT.failed
end

function M.approve(args)
  local opts, pos, code = parse("approve", args, {}, { "state" })
  if not opts then return code end
  if #pos < 1 or #pos > 2 then errln("approve", "usage: lifeboat approve ID [STEP]"); return EXIT.bad end
  local job = open_job("approve", opts, pos[1])
  if not job then return EXIT.bad end
  local step = pos[2]
  if step and job.steps[step] == nil then
    -- a manual step not reached yet can be approved ahead only by its exact id
    if not step:match("/before/%d+$") and not step:match("/after/%d+$") and not step:match("/prepare/%d+$") then
      errln("approve", "job %s has no step '%s'", job.id, step)
      return EXIT.bad
    end
  end
  if not step then
    local any = false
    for id, s in pairs(job.steps) do
      if s.state == "waiting" then job:approve(id); say("approved " .. id); any = true end
    end
    if not any then errln("approve", "job %s has no step waiting for approval", job.id); return EXIT.bad end
  else
    job:approve(step)
    say("approved " .. step)
  end
  if job.state == "paused" then say("continue with: lifeboat resume " .. job.id) end
  return EXIT.done
end

local function job_duration(j)
  if j.ended and j.started then return util.fmt_duration(j.ended - j.started) end
  return "-"
end

function M.jobs(args)
  local opts, pos, code = parse("jobs", args, { "json" }, { "state" })
  if not opts then return code end
  local state = job_mod.state_dir(pos[1], opts.state)
  local list = job_mod.list(state)
  if opts.json then
    local arr = json.array()
    for _, j in ipairs(list) do
      arr[#arr + 1] = { id = j.id, plan = j.plan_name, op = j.op, state = j.state, failures = j.failures,
        started = j.started, ended = j.ended }
    end
    say(json.encode(arr))
    return EXIT.done
  end
  if #list == 0 then say("no jobs in " .. state); return EXIT.done end
  say(string.format("%-36s %-14s %-10s %-18s %s", "JOB", "PLAN", "OPERATION", "STATE", "DURATION"))
  for _, j in ipairs(list) do
    say(string.format("%-36s %-14s %-10s %-18s %s", j.id, j.plan_name or "?", j.op,
      job_mod.state_label(j.state, j.failures), job_duration(j)))
  end
  return EXIT.done
end

-- job ID note TEXT [--by NAME], job ID sign --by NAME: recorded in the
-- journal, and the reports written again with them.
local function annotate(j, what, pos, opts)
  if what == "note" then
    if #pos ~= 3 or pos[3]:match("^%s*$") then errln("job", "usage: lifeboat job ID note TEXT [--by NAME]"); return EXIT.bad end
    j:note(pos[3], opts.by or whoami())
  else
    if #pos ~= 2 then errln("job", "usage: lifeboat job ID sign --by NAME"); return EXIT.bad end
    if not opts.by or opts.by:match("^%s*$") then errln("job", "sign needs --by NAME: who signs the job off"); return EXIT.bad end
    if j.state == "running" then errln("job", "job %s has not finished: sign it off once it has", j.id); return EXIT.bad end
    j:sign(opts.by)
  end
  local files = report.refresh(j)
  say(string.format("%s job %s%s", what == "note" and "noted on" or "signed off", j.id,
    files and (": " .. table.concat(files, ", ")) or " (it has no report)"))
  return EXIT.done
end

function M.job(args)
  local opts, pos, code = parse("job", args, { "json" }, { "state", "by" })
  if not opts then return code end
  if #pos < 1 then errln("job", "a job id is needed"); return EXIT.bad end
  local j = open_job("job", opts, pos[1])
  if not j then return EXIT.bad end
  if pos[2] == "note" or pos[2] == "sign" then return annotate(j, pos[2], pos, opts) end
  if #pos ~= 1 then errln("job", "unknown job subcommand '%s' (note or sign)", pos[2]); return EXIT.bad end
  if opts.json then
    local steps = json.array()
    for _, id in ipairs(j.order) do
      local s = j.steps[id]
      steps[#steps + 1] = { id = id, title = s.title, state = s.state, started = s.started, ended = s.ended,
        error = s.error, attempt = s.attempt, result = s.result }
    end
    say(json.encode { id = j.id, plan = j.plan, op = j.op, state = j.state, failures = j.failures,
      started = j.started, ended = j.ended, error = j.error, steps = steps, notes = json.array(j.notes),
      signoffs = json.array(j.signoffs), messages = json.array(j.messages) })
    return EXIT.done
  end
  say(out.shown(string.format("job %s: %s of %s, %s (%s)", j.id, j.op, j.plan or "?",
    job_mod.state_label(j.state, j.failures), job_duration(j))))
  if j.error then say(out.shown("error: " .. j.error)) end
  for _, id in ipairs(j.order) do
    local s = j.steps[id]
    local secs = s.ended and s.started and util.fmt_duration(s.ended - s.started) or "-"
    say(out.shown(string.format("  %-10s %-34s %8s  %s", s.state, id, secs, s.title or "")))
    if s.error and s.state ~= "done" then say(out.shown("             " .. s.error)) end
  end
  for _, m in ipairs(j.messages) do say(out.shown(string.format("  %s %s: %s", m.level, m.step, m.text))) end
  for _, n in ipairs(j.notes) do say(out.shown(string.format("  note by %s, %s: %s", n.by, util.iso(n.t), n.text))) end
  for _, x in ipairs(j.signoffs) do say(out.shown(string.format("  signed off by %s, %s", x.by, util.iso(x.t)))) end
  return EXIT.done
end

function M.report(args)
  local opts, pos, code = parse("report", args, {}, { "state" })
  if not opts then return code end
  if #pos ~= 1 then errln("report", "a job id is needed"); return EXIT.bad end
  local j = open_job("report", opts, pos[1])
  if not j then return EXIT.bad end
  local any = false
  for _, f in ipairs({ "report.json", "report.md", "junit.xml", "report.html" }) do
    if core.fs.stat(j.dir .. "/" .. f) then say(j.dir .. "/" .. f); any = true end
  end
  say(j.journal)
  if not any then errln("report", "job %s has no report (only drills and failovers write one)", j.id) end
  return EXIT.done
end

function M.status(args)
  local opts, pos, code = parse("status", args, { "json" }, { "state" })
  if not opts then return code end
  if #pos ~= 1 then errln("status", "one plan file is needed"); return EXIT.bad end
  local plan = load_plan("status", pos[1])
  if not plan then return EXIT.bad end
  local rt = { args = {}, opts = {} }
  local state = job_mod.state_dir(plan.file, opts.state)
  prepare(plan, "status", rt, state)
  local st = rt.state
  local threshold = (plan.raw.policy or {}).rpo_threshold or (plan.raw.objectives or {}).rpo
  local points = {}
  local ok, list = pcall(store_points, rt)
  if not ok then errln("status", "%s", list); return EXIT.bad end
  for _, p in ipairs(list) do points[p.machine] = p end -- oldest first: the last one wins
  local now = core.now()
  local machines = {}
  for _, name in ipairs(plan.machine_order) do
    local p = points[name]
    local age = p and (now - (util.parse_time(p.time) or now)) or nil
    local protection = not p and "unprotected" or (threshold and age > threshold and "over RPO" or "protected")
    if st.phase == "committed" then protection = "committed" end
    machines[#machines + 1] = { name = name, group = plan.group_of[name] and plan.group_of[name].name,
      newest_point = p and p.id, consistency = p and p.consistency, age = age, protection = protection }
  end
  local drill = st.last_good_drill
  local every = (plan.raw.policy or {}).drill_every
  local overdue
  if every and st.phase ~= "committed" and (not drill or now - drill.t > every) then
    overdue = string.format("no passing drill %s (policy.drill_every %s): run 'lifeboat drill PLAN'",
      drill and ("for " .. util.fmt_duration(now - drill.t)) or "yet", util.fmt_duration(every))
  end
  local prot = json.decode(core.fs.read(state .. "/protect.json") or "null")
  if type(prot) ~= "table" then prot = nil end
  if opts.json then
    say(json.encode { plan = plan.name, active = state_mod.site_of(st, st.active), phase = st.phase, roles = st.roles,
      kept_drill = st.kept_drill,
      rpo_threshold = threshold, machines = machines, last_passing_drill = drill, last_drill = st.last_drill,
      drill_overdue = overdue, protect = prot })
    return EXIT.done
  end
  say(string.format("plan %s: active site %s (%s)%s%s", plan.name, state_mod.site_of(st, st.active), st.phase,
    st.roles and string.format(", protected onward: primary %s, recovery %s", st.roles.primary, st.roles.recovery) or "",
    st.kept_drill and (", kept drill " .. st.kept_drill .. " is up") or ""))
  say(string.format("  %-16s %-8s %-13s %-18s %s", "MACHINE", "GROUP", "PROTECTION", "NEWEST POINT", "AGE"))
  for _, m in ipairs(machines) do
    say(string.format("  %-16s %-8s %-13s %-18s %s", m.name, m.group or "-", m.protection,
      m.newest_point and (m.newest_point:sub(1, 8) .. " " .. m.consistency) or "-",
      m.age and (util.fmt_duration(m.age) .. (threshold and (" (RPO threshold " .. util.fmt_duration(threshold) .. ")") or "")) or "-"))
  end
  if drill then
    say(string.format("  last passing drill: %s, %s ago%s", drill.job, util.fmt_duration(now - drill.t),
      drill.rto and (", RTO " .. util.fmt_duration(drill.rto)) or ""))
  else
    say("  last passing drill: none")
  end
  if overdue then say(out.paint("33", "  warning: " .. overdue)) end
  if st.last_drill and not st.last_drill.ok then
    say(string.format("  last drill FAILED: %s, %s ago", st.last_drill.job, util.fmt_duration(now - st.last_drill.t)))
  end
  if prot and prot.last_run then
    local breached = util.sorted_keys(prot.breached or {})
    say(string.format("  protect: last replicate %s ago (%s), next %s%s%s", util.fmt_duration(now - prot.last_run),
      prot.failing and string.format("FAILING, %d attempt(s)", prot.failures or 0) or "ok",
      prot.next > now and ("in " .. util.fmt_duration(prot.next - now)) or "due",
      #breached > 0 and (", over RPO: " .. table.concat(breached, ", ")) or "",
      #(prot.pending or {}) > 0 and string.format(", %d alert(s) not delivered yet", #prot.pending) or ""))
  end
  return EXIT.done
end

function M.agent(args)
  local opts, pos, code = parse("agent", args, { "json" }, { "site", "state" })
  if not opts then return code end
  local what = pos[1]
  if what ~= "status" and what ~= "install" then
    errln("agent", "status or install is needed (see 'lifeboat agent --help')"); return EXIT.bad
  end
  if #pos ~= 2 then errln("agent", "one plan file is needed"); return EXIT.bad end
  local plan = load_plan("agent", pos[2])
  if not plan then return EXIT.bad end
  local rt = { args = {}, opts = {} }
  prepare(plan, "agent", rt, job_mod.state_dir(plan.file, opts.state))
  local steps, rows = {}, {}
  for _, site_name in ipairs(util.sorted_keys(plan.raw.sites or {})) do
    local site = ops.site(plan, site_name)
    if site.provider == "ssh" and (not opts.site or opts.site == site_name) then
      local p = ops.provider(plan, "ssh")
      for _, mname in ipairs(plan.machine_order) do
        local row = { site = site_name, machine = mname }
        rows[#rows + 1] = row
        steps[#steps + 1] = { id = site_name .. "/" .. mname, deps = {}, run = function()
          local ok, r = pcall(p["agent_" .. what], { rt = rt, site = site, plan = plan }, mname)
          if ok then for k, v in pairs(r) do row[k] = v end else row.state, row.error = "failed", tostring(r) end
        end }
      end
    end
  end
  if #steps == 0 then
    errln("agent", opts.site and "site '%s' is not an ssh site of the plan" or "the plan has no ssh site", opts.site)
    return EXIT.bad
  end
  sched.run(NO_JOURNAL, steps, {})
  local failed = 0
  for _, r in ipairs(rows) do if r.state == "failed" then failed = failed + 1 end end
  if opts.json then
    say(json.encode(rows))
  else
    say(string.format("%-10s %-10s %-24s %-10s %-9s %-8s %s", "SITE", "MACHINE", "HOST", "STATE", "VERSION", "ARCH", "CLOCK"))
    for _, r in ipairs(rows) do
      say(string.format("%-10s %-10s %-24s %-10s %-9s %-8s %s", r.site, r.machine, r.host or "-", r.state or "-",
        r.version or "-", r.arch or "-", r.clock_skew and string.format("%+.1fs", r.clock_skew) or "-"))
      if r.error then say("  " .. r.error) end
    end
  end
  return failed == 0 and EXIT.done or EXIT.failed
end

function M.import(args)
  local argv = {}
  for i, a in ipairs(args) do argv[i] = a == "-o" and "--output" or a end
  local opts, pos, code = parse("import", argv, { "force" }, { "output" })
  if not opts then return code end
  if pos[1] ~= "asr" then errln("import", "the format to import is needed: asr (see 'lifeboat import --help')"); return EXIT.bad end
  if #pos ~= 2 then errln("import", "one ASR recovery plan (JSON) is needed"); return EXIT.bad end
  local file = pos[2]
  local text, e = core.fs.read(file)
  if not text then errln("import", "%s", e); return EXIT.bad end
  local doc, jerr = json.decode(text)
  if doc == nil then errln("import", "%s: not JSON: %s", file, tostring(jerr)); return EXIT.bad end
  local yaml, notes = require("lifeboat.import_asr").convert(doc)
  if not yaml then errln("import", "%s: %s", file, notes); return EXIT.bad end
  local target = opts.output or (file:gsub("%.json$", "") .. ".yaml")
  local plan, errs = plan_mod.parse(yaml, target)
  if not plan then -- a defect of the importer: say what it wrote wrong
    if core.getenv("LIFEBOAT_DEBUG") then core.write(2, yaml) end
    for _, l in ipairs(plan_mod.format_errors("(imported plan)", errs)) do core.write(2, l .. "\n") end
    errln("import", "%s: the plan written from it does not validate (a lifeboat defect)", file)
    return EXIT.failed
  end
  for _, n in ipairs(notes) do errln("import", "not carried over: %s", n) end
  if not opts.output then core.write(1, yaml); return EXIT.done end
  if core.fs.stat(opts.output) and not opts.force then
    errln("import", "%s exists; --force replaces it", opts.output)
    return EXIT.bad
  end
  local ok, werr = core.fs.write(opts.output, yaml)
  if not ok then errln("import", "%s", werr); return EXIT.bad end
  say(string.format("%s: plan '%s' with %d machines in %d groups (%d note(s) on what was not carried over)",
    opts.output, plan.name, #plan.machine_order, #plan.raw.groups, #notes))
  return EXIT.done
end

function M.run(args)
  if args[1] == "--help" or args[1] == "-h" then core.write(1, help.run); return EXIT.done end
  local path = args[1]
  if not path then errln("run", "a Lua script is needed (see 'lifeboat run --help')"); return EXIT.bad end
  local src, e = core.fs.read(path)
  if not src then errln("run", "%s", e); return EXIT.bad end
  local script_args = { table.unpack(args, 2) }
  script_args[0] = path
  local env_scope = { arg = script_args, env = secrets.environ, secret = secrets.accessor }
  local env = sandbox.env(env_scope, util.dirname(path))
  local fn, lerr = load(src, "@" .. path, "t", env)
  if not fn then errln("run", "%s", lerr); return EXIT.bad end
  api.sink = function(_, text, level)
    core.write(1, (level ~= "info" and (level .. ": ") or "") .. secrets.redact(text) .. "\n")
  end
  local timeout = core.getenv("LIFEBOAT_RUN_TIMEOUT")
  local result, step = one_step(function() return fn(table.unpack(script_args)) end,
    timeout and util.parse_duration(timeout) or nil)
  if result == "done" then
    if step.value ~= nil and type(step.value) ~= "table" then say(tostring(step.value)) end
    return EXIT.done
  end
  if result == "interrupted" then errln("run", "interrupted"); return EXIT.interrupted end
  errln("run", "%s", tostring(step.error))
  return EXIT.failed
end

function M.protect(args)
  return require("lifeboat.protect").main(args, { parse = parse, load_plan = load_plan, operation = M.operation,
    prepare = prepare, blocking = blocking, store_points = store_points, errln = errln, say = say, EXIT = EXIT })
end

-- The plan commands, each once: `lifeboat --help` lists them in this order.
local COMMANDS = {
  { "validate", "check a recovery plan and report every problem" },
  { "show", "print the steps an operation would run, in order" },
  { "schema", "print the JSON Schema of the plan format" },
  "operations",
  { "status", "active site, machine states, newest points, last drill" },
  { "resume", "continue a job that failed, paused or was interrupted" },
  { "approve", "approve a job's manual step" },
  { "cancel", "cancel a running or paused job; its clean-up steps run" },
  { "jobs", "list recent jobs" },
  { "job", "one job's steps with state, timing and error; notes, sign-off" },
  { "report", "print where a job's reports are" },
  { "protect", "keep plans within their RPO: scheduled replication, alerts" },
  { "agent", "the lifeboat on each host of a plan's ssh sites: status, install" },
  { "import", "write a lifeboat plan from an Azure Site Recovery plan" },
  { "run", "run a Lua script with the lifeboat API" },
}

local function command_list()
  local list = {}
  for _, c in ipairs(COMMANDS) do
    if c == "operations" then
      for _, rec in ipairs(operations.all()) do
        list[#list + 1] = { name = rec.name, summary = rec.summary, run = function(args) return M.operation(rec.name, args) end }
      end
    else
      list[#list + 1] = { name = c[1], summary = c[2], run = M[c[1]] }
    end
  end
  return list
end

function M.main(command, args)
  local ok, rc = xpcall(function()
    if command == "--list" then -- for `lifeboat --help`, on the fd it names
      for _, c in ipairs(command_list()) do
        core.write(tonumber(args[1]) or 1, string.format("  %-12s %s\n", c.name, c.summary))
      end
      return EXIT.done
    end
    for _, c in ipairs(command_list()) do
      if c.name == command then return c.run(args) end
    end
    core.write(2, out.shown(string.format("lifeboat: unknown command '%s' (see 'lifeboat --help')", command)) .. "\n")
    return EXIT.bad
  end, function(e)
    if core.getenv("LIFEBOAT_DEBUG") then return core.traceback(tostring(e), 2) end
    return tostring(e)
  end)
  if not ok then
    errln(command, "%s", rc)
    rc = EXIT.failed
  end
  -- Ctrl-C or SIGTERM that ended a command early: it says so in its exit code
  if rc ~= EXIT.done and core.interrupted() then return EXIT.interrupted end
  return rc
end

return M
