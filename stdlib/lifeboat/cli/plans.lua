-- cli/plans.lua: commands on plan files and scripts: validate, schema,
-- import, run.
local api = require("lifeboat.api")
local json = require("lifeboat.json")
local plan_mod = require("lifeboat.plan")
local sandbox = require("lifeboat.sandbox")
local schema = require("lifeboat.schema")
local secrets = require("lifeboat.secrets")
local util = require("lifeboat.util")
local cli_args = require("lifeboat.cli.args")
local EXIT, errln, say, help = cli_args.EXIT, cli_args.errln, cli_args.say, cli_args.help
local parse, load_plan = cli_args.parse, cli_args.load_plan
local checks = require("lifeboat.cli.preflight")
local one_step = checks.one_step

local M = {}

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

function M.import(args)
  local argv = {}
  for i, a in ipairs(args) do argv[i] = a == "-o" and "--output" or a end
  local opts, pos, code = parse("import", argv, { "force" }, { "output" })
  if not opts then return code end
  if pos[1] ~= "asr" then errln("import", "the format to import is needed: asr (see 'lifeboat import --help')"); return EXIT.bad end
  if #pos ~= 2 then errln("import", "one ASR recovery plan (JSON) is needed"); return EXIT.bad end
  local file = pos[2]
  if opts.output and core.fs.stat(opts.output) and not opts.force then
    errln("import", "%s exists; --force replaces it", opts.output)
    return EXIT.bad
  end
  local text, e = core.fs.read(file)
  if not text then errln("import", "%s", e); return EXIT.bad end
  local _, bad_at = utf8.len(text)
  if bad_at then errln("import", "%s: not UTF-8 text (byte %d)", file, bad_at); return EXIT.bad end
  if text:find("\\u0000", 1, true) then errln("import", "%s: a string holds a NUL character (\\u0000)", file); return EXIT.bad end
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
  local ok, werr = core.fs.write(opts.output, yaml)
  if not ok then errln("import", "%s", werr); return EXIT.failed end
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
  if timeout and not util.parse_duration(timeout) then
    errln("run", "LIFEBOAT_RUN_TIMEOUT must be a duration like 30s, not '%s'", timeout); return EXIT.bad
  end
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

return M
