-- cli/args.lua: what every plan command shares: exit codes, messages, the
-- help texts, option parsing, loading the plan, the machines and the job
-- a command names.
local job_mod = require("lifeboat.job")
local operations = require("lifeboat.operations")
local out = require("lifeboat.out")
local plan_mod = require("lifeboat.plan")
local secrets = require("lifeboat.secrets")
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
  cancel = "usage: lifeboat cancel ID [--wait DURATION] [--force] [--json] [--state DIR]\n\n" ..
    "Cancels a job: a running one (in another shell) stops its running steps within a\n" ..
    "second, skips the rest and runs its clean-up steps (a drill's stop and remove);\n" ..
    "for a paused, failed or interrupted job the clean-up steps run here. The job ends\n" ..
    "cancelled and cannot be resumed. Waits up to --wait (default 1m) for a running job.\n" ..
    "A plan changed since the job started is refused unless --force; Ctrl-C during the\n" ..
    "clean-up leaves the job interrupted, and 'lifeboat resume ID' finishes the cancel.\n" ..
    "Exit 0 when the job ended cancelled with its clean-up done, 1 when a clean-up step\n" ..
    "failed or the job did not stop in time, 2 when another job holds the plan.\n",
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
  local all = true
  for _, m in ipairs(plan.machine_order) do if not want[m] then all = false end end
  if all then return nil end -- every machine: the whole plan, not a subset
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

-- The job ID names, from --state, LIFEBOAT_STATE or ./.lifeboat; nil after saying why not.
local function open_job(cmd, opts, id)
  local state = job_mod.state_dir(nil, opts.state)
  local job, e = job_mod.open(state, id)
  if not job then errln(cmd, "%s", e) end
  return job, state
end

local function interactive() return core.isatty(0) and core.isatty(2) end
local function whoami() return core.getenv("LIFEBOAT_USER") or core.getenv("USER") or "unknown" end

M.EXIT = EXIT
M.errln = errln
M.say = say
M.help = help
M.parse = parse
M.load_plan = load_plan
M.op_args = op_args
M.chosen_machines = chosen_machines
M.open_job = open_job
M.interactive = interactive
M.whoami = whoami

return M
