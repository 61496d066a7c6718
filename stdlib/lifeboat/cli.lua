-- cli.lua: the plan commands, listed once (`lifeboat --help` prints them
-- in this order), and main, which runs one. The commands live by concern
-- in cli/: args (parsing and shared helpers), preflight, jobrun (show,
-- the operations, resume, cancel, approve), status (status, jobs, job,
-- report, agent) and plans (validate, schema, import, run). Exit codes:
-- 0 done, 1 failed or done with failures, 2 bad input, 3 paused for a
-- manual step, 130 interrupted.
local cli_args = require("lifeboat.cli.args")
local checks = require("lifeboat.cli.preflight")
local jobrun = require("lifeboat.cli.jobrun")
local operations = require("lifeboat.operations")
local out = require("lifeboat.out")

local EXIT, errln, say = cli_args.EXIT, cli_args.errln, cli_args.say

local M = {}
for _, mod in ipairs({ jobrun, require("lifeboat.cli.status"), require("lifeboat.cli.plans") }) do
  for name, fn in pairs(mod) do M[name] = fn end -- the commands
end

function M.protect(args)
  return require("lifeboat.protect").main(args, { parse = cli_args.parse, load_plan = cli_args.load_plan,
    operation = M.operation, prepare = checks.prepare, blocking = checks.blocking, store_points = checks.store_points,
    errln = errln, say = say, EXIT = EXIT })
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
    if command == "--list" then -- for `lifeboat --help`: on stdout, or stderr with "2"
      for _, c in ipairs(command_list()) do
        core.write(args[1] == "2" and 2 or 1, string.format("  %-12s %s\n", c.name, c.summary))
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
