-- cli/jobrun.lua: running a job: show and the operations, resume, cancel
-- and approve; the steps in waves, the journal, the state change and the
-- reports at its end.
local api = require("lifeboat.api")
local job_mod = require("lifeboat.job")
local json = require("lifeboat.json")
local operations = require("lifeboat.operations")
local ops = require("lifeboat.ops")
local out = require("lifeboat.out")
local report = require("lifeboat.report")
local sched = require("lifeboat.sched")
local schema = require("lifeboat.schema")
local state_mod = require("lifeboat.state")
local store = require("lifeboat.store")
local util = require("lifeboat.util")
local cli_args = require("lifeboat.cli.args")
local EXIT, errln, say, parse = cli_args.EXIT, cli_args.errln, cli_args.say, cli_args.parse
local load_plan, op_args, chosen_machines, open_job = cli_args.load_plan, cli_args.op_args, cli_args.chosen_machines, cli_args.open_job
local interactive, whoami = cli_args.interactive, cli_args.whoami
local checks = require("lifeboat.cli.preflight")
local blocking, prepare, store_exists, preflight = checks.blocking, checks.prepare, checks.store_exists, checks.preflight

local M = {}

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
  -- notes added from another shell while the job ran are in its journal
  local now_journal = job_mod.open(job.state_dir, job.id)
  if now_journal then job.notes, job.signoffs = now_journal.notes, now_journal.signoffs end
  local summary = report.summarize(job, plan, steps, job_mod.state_label(result, job.failures), err, rt)
  job:event { ev = "state", state = result, error = err, secs = core.now() - started, rto = summary.rto,
    failures = job.failures }
  job:flush()
  out.finish()
  -- a cancelled job changes nothing, but its fence step may have: the
  -- store gets the plan's state back
  if rt and rt.state_dir and (result == "done" or result == "failed" or result == "cancelled") then
    job.rto = summary.rto
    local st = state_mod.load(rt.state_dir)
    if result ~= "cancelled" then
      st = state_mod.apply(job.op, st, job, rt.args, result == "done", rt)
      state_mod.save(rt.state_dir, st)
    end
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

-- The plan a job ran, unless it changed since (then only with --force).
local function job_plan(cmd, job, force)
  local plan = load_plan(cmd, job.plan)
  if plan and plan.sha ~= job.plan_sha and not force then
    errln(cmd, "the plan %s changed since job %s started; %s with --force to go on with the changed plan",
      job.plan, job.id, cmd)
    return nil
  end
  return plan
end

-- What going on with a job needs (resume, cancel): its steps built again
-- from the plan, and those an earlier run finished. nil, why if they cannot be.
local function job_steps(job, plan, state, run_opts)
  local rt = { args = job.args or {}, opts = run_opts, job = job }
  prepare(plan, job.op, rt, state)
  local ok, steps = pcall(ops.build, plan, job.op, rt)
  if not ok then return nil, steps end
  local done = {}
  for id, s in pairs(job.steps) do
    if s.state == "done" or (s.state == "failed" and s.continued) then done[id] = s end
  end
  return rt, steps, done
end

function M.resume(args)
  local opts, pos, code = parse("resume", args, { "force", "yes", "json" }, { "state" })
  if not opts then return code end
  if #pos ~= 1 then errln("resume", "a job id is needed"); return EXIT.bad end
  local job, state = open_job("resume", opts, pos[1])
  if not job then return EXIT.bad end
  if job.state == "done" then say(string.format("job %s is already done", job.id)); return EXIT.done end
  if job.state == "cancelled" then errln("resume", "job %s was cancelled: start a new one", job.id); return EXIT.bad end
  local plan = job_plan("resume", job, opts.force)
  if not plan then return EXIT.bad end
  local lock = lock_state("resume", state)
  if not lock then return EXIT.bad end
  local rt, steps, done = job_steps(job, plan, state, { yes = opts.yes, interactive = interactive() })
  if not rt then lock:close(); errln("resume", "%s", steps); return EXIT.bad end
  job:event { ev = "resumed", forced = opts.force or nil, plan_sha = plan.sha }
  -- the syncs of a resumed job are another moment than its first run's:
  -- a run of their own, so latest-consistent never mixes the two
  rt.run_id = job.id .. "-" .. ((job.resumes or 0) + 1)
  local rc = run_steps(job, plan, steps, opts, done, rt)
  lock:close()
  return rc
end

-- cancel ID: a job that runs now stops its steps, skips what is left and
-- runs its clean-up steps (the running process does that, within a
-- second); a paused, failed or interrupted job gets its clean-up steps run
-- here. Either way it ends cancelled, not to be resumed.
function M.cancel(args)
  local opts, pos, code = parse("cancel", args, { "json", "force" }, { "state", "wait" })
  if not opts then return code end
  if #pos ~= 1 then errln("cancel", "a job id is needed"); return EXIT.bad end
  local wait = opts.wait and util.parse_duration(opts.wait) or (not opts.wait and 60)
  if not wait then errln("cancel", "--wait must be a duration like 30s, not '%s'", opts.wait); return EXIT.bad end
  local job, state = open_job("cancel", opts, pos[1])
  if not job then return EXIT.bad end
  local function finished(j)
    if j.state == "done" or j.state == "cancelled" then
      errln("cancel", "job %s is %s already: there is nothing to cancel", j.id, j.state)
      return true
    end
  end
  if finished(job) then return EXIT.bad end
  local lock = core.fs.lock(state .. "/lock")
  if not lock and job.state ~= "running" then
    errln("cancel", "job %s is %s, and another job holds the plan's state folder: cancel it once that one has ended",
      job.id, job.state)
    return EXIT.bad
  end
  if not lock then
    -- the job runs in another process, which sees the request within a second
    job:request_cancel(whoami())
    say(string.format("job %s: cancel requested; waiting up to %s for it to stop", job.id, util.fmt_duration(wait)))
    local deadline = core.mono() + wait
    while core.mono() < deadline do
      local j = job_mod.open(state, job.id)
      if j and j.state ~= "running" then
        say(opts.json and json.encode { job = j.id, state = j.state, error = j.error } or
          string.format("job %s %s", j.id, j.state))
        return j.state == "cancelled" and not j.error and EXIT.done or EXIT.failed
      end
      blocking(function() require("lifeboat.api").sleep(0.2) end)
    end
    job:withdraw_cancel() -- not left for a later run of the job to find
    errln("cancel", "job %s did not stop within %s; the plan's state folder is held by another process", job.id,
      util.fmt_duration(wait))
    return EXIT.failed
  end
  -- no process runs it: its clean-up runs here, on the journal as it is now
  job = job_mod.open(state, job.id)
  if finished(job) then lock:close(); return EXIT.bad end
  local plan = job_plan("cancel", job, opts.force)
  if not plan then lock:close(); return EXIT.bad end
  local rt, steps, done = job_steps(job, plan, state, { yes = true, interactive = false })
  if not rt then lock:close(); errln("cancel", "%s", steps); return EXIT.bad end
  job:request_cancel(whoami())
  job:event { ev = "resumed", cancel = true }
  local rc = run_steps(job, plan, steps, opts, done, rt)
  lock:close()
  if rc == EXIT.interrupted then return rc end
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

return M
