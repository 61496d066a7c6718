-- actions.lua: runs one plan action (exec, lua, script, uses, manual,
-- http, wait) inside its step, and describes it for show and --dry-run.
-- ctx: plan, job, step, scope (the ${{ }} scope), opts (yes, interactive).
local api = require("lifeboat.api")
local command = require("lifeboat.command")
local expr = require("lifeboat.expr")
local plan_mod = require("lifeboat.plan")
local sandbox = require("lifeboat.sandbox")
local sched = require("lifeboat.sched")
local util = require("lifeboat.util")

local M = {}

local function where(ctx, a)
  local node = ctx.plan.ctx.pos[a]
  return string.format("%s:%d", ctx.plan.file, node and node.line or 0)
end

local run = {}

function run.exec(a, ctx)
  local argv, shown = command.argv(a.exec, ctx.scope)
  local r = api.exec(argv, { env = expr.render(a.env, ctx.scope), cwd = expr.render(a.cwd, ctx.scope), show = shown })
  return { code = r.code, seconds = r.seconds }
end

function run.lua(a, ctx)
  local v = sandbox.run(a.lua, "=" .. where(ctx, a), ctx.scope, ctx.plan.dir)
  return type(v) == "table" and v or (v ~= nil and { value = v } or nil)
end

function run.script(a, ctx)
  local path = util.join(ctx.plan.dir, a.script)
  local src = api.fs.read(path)
  local args = expr.render(a.args or {}, ctx.scope)
  local scope = util.copy(ctx.scope)
  scope.arg = args
  local v = sandbox.run(src, "@" .. a.script, scope, ctx.plan.dir, table.unpack(args))
  return type(v) == "table" and v or nil
end

function run.uses(a, ctx)
  local mod = plan_mod.load_module(ctx.plan.dir, "actions", a.uses)
  return mod.run(expr.render(a.with or {}, ctx.scope), ctx)
end

function run.http(a, ctx)
  local url = expr.render(a.http, ctx.scope)
  local r = api.http { url = url, method = a.method, headers = expr.render(a.headers, ctx.scope),
    body = expr.render(a.body, ctx.scope), verify = a.verify }
  local ok = a.expect and r.status == a.expect or (not a.expect and r.status >= 200 and r.status < 300)
  if not ok then
    error(string.format("%s answered %d%s", url, r.status, a.expect and (", expected " .. a.expect) or ""), 0)
  end
  return { status = r.status, seconds = r.seconds }
end

function run.wait(a, ctx)
  api.sleep(a.wait)
  return { waited = a.wait }
end

local function on_timeout(a)
  if a.on_timeout == "approve" then
    api.log("no answer within %s: approved (on_timeout: approve)", util.fmt_duration(a.timeout))
    return { approved = "on_timeout" }
  end
  error(string.format("no approval within %s (on_timeout: abort)", util.fmt_duration(a.timeout)), 0)
end

-- A person confirms: --yes, an earlier `lifeboat approve`, a prompt on
-- the terminal, or (without one) an approval from another shell until
-- the timeout; with neither a terminal nor a timeout the job pauses.
function run.manual(a, ctx)
  local text = expr.render(a.manual, ctx.scope)
  local id = ctx.step.id
  local function approved()
    local ap = ctx.job:approvals()
    return ap[id] or ap["*"]
  end
  if ctx.opts.yes then return { approved = "--yes" } end
  if approved() then return { approved = "lifeboat approve" } end
  if ctx.opts.interactive then
    local r, why = sched.await(core.prompt(string.format("\n? [%s] %s\n  continue? [y/N] ", id, text)), a.timeout)
    if r == nil and why == "timeout" then return on_timeout(a) end
    if r.error then error("manual step: " .. r.error, 0) end
    if r.answer:match("^%s*[yY]") then return { approved = "terminal" } end
    error("not approved at the terminal", 0)
  end
  if a.timeout then
    api.log("waiting up to %s for: lifeboat approve %s %s", util.fmt_duration(a.timeout), ctx.job.id, id)
    local deadline = core.mono() + a.timeout
    while core.mono() < deadline do
      if approved() then return { approved = "lifeboat approve" } end
      sched.sleep(math.min(1, deadline - core.mono()))
    end
    if approved() then return { approved = "lifeboat approve" } end
    return on_timeout(a)
  end
  error(sched.pause("waiting for approval: " .. text), 0)
end

function M.run(a, ctx) return run[a.kind](a, ctx) end

function M.describe(a)
  local k = a.kind
  if k == "exec" then return "exec: " .. expr.text(a.exec) end
  if k == "lua" then return "lua: " .. (a.lua:match("[^\n]+") or ""):sub(1, 60) end
  if k == "script" then return "script: " .. a.script end
  if k == "uses" then
    local with = {}
    for _, key in ipairs(util.sorted_keys(a.with or {})) do
      local v = a.with[key]
      with[#with + 1] = key .. "=" .. (type(v) == "table" and not expr.is_template(v) and "{...}" or expr.text(v))
    end
    return "uses " .. a.uses .. (#with > 0 and (" (" .. table.concat(with, ", ") .. ")") or "")
  end
  if k == "manual" then return "manual: " .. expr.text(a.manual) end
  if k == "http" then return "http: " .. (a.method or "GET") .. " " .. expr.text(a.http) end
  if k == "wait" then return "wait " .. util.fmt_duration(a.wait) end
  return k
end

return M
