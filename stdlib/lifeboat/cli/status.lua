-- cli/status.lua: what is there: status, jobs, job (with its notes and
-- sign-off), report, agent.
local job_mod = require("lifeboat.job")
local json = require("lifeboat.json")
local ops = require("lifeboat.ops")
local out = require("lifeboat.out")
local report = require("lifeboat.report")
local sched = require("lifeboat.sched")
local state_mod = require("lifeboat.state")
local util = require("lifeboat.util")
local cli_args = require("lifeboat.cli.args")
local EXIT, errln, say, parse = cli_args.EXIT, cli_args.errln, cli_args.say, cli_args.parse
local load_plan, open_job, whoami = cli_args.load_plan, cli_args.open_job, cli_args.whoami
local checks = require("lifeboat.cli.preflight")
local NO_JOURNAL, prepare, store_points = checks.NO_JOURNAL, checks.prepare, checks.store_points

local M = {}

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
  if opts.by and (opts.by:find("%c") or #opts.by > 100) then
    errln("job", "--by must name someone on one line of at most 100 characters"); return EXIT.bad
  end
  if what == "note" then
    if #pos ~= 3 or pos[3]:match("^%s*$") then errln("job", "usage: lifeboat job ID note TEXT [--by NAME]"); return EXIT.bad end
    j:note(pos[3], opts.by or whoami())
  else
    if #pos ~= 2 then errln("job", "usage: lifeboat job ID sign --by NAME"); return EXIT.bad end
    if not opts.by or opts.by:match("^%s*$") then errln("job", "sign needs --by NAME: who signs the job off"); return EXIT.bad end
    if j.state ~= "done" and j.state ~= "failed" and j.state ~= "cancelled" then
      errln("job", "job %s is %s: sign it off once it has finished", j.id, j.state); return EXIT.bad
    end
    j:sign(opts.by)
  end
  if j.state == "running" then -- its process writes the reports when it ends, with this
    say(string.format("noted on job %s; it runs: its reports will have the note", j.id))
    return EXIT.done
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
    local moved = st.subset == nil or util.contains(st.subset, name) -- this machine is in the plan's phase
    if st.phase == "committed" and moved then protection = "committed"
    elseif st.phase == "failed-over" and moved then protection = "failed over"
    end
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

return M
