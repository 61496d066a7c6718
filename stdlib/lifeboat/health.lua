-- health.lua: a machine's health checks (tcp, http, exec, lua), each
-- retried every `every` until `within` passes. The evidence of every
-- check (target, attempts, last answer, time) goes into the step result
-- and from there into the report.
local api = require("lifeboat.api")
local command = require("lifeboat.command")
local expr = require("lifeboat.expr")
local sandbox = require("lifeboat.sandbox")
local sched = require("lifeboat.sched")
local secrets = require("lifeboat.secrets")

local M = {}

local function await_http(req)
  req.netns = api.netns()
  return sched.await(core.http(req))
end

local probe = {}

function probe.tcp(c, scope)
  local target = expr.render(c.tcp, scope)
  local host, port = tostring(target):match("^%[?([^%]]+)%]?:(%d+)$")
  if not host then error("tcp check needs HOST:PORT, got '" .. tostring(target) .. "'", 0) end
  local r = await_http { url = "http://" .. target .. "/", connect_only = true, timeout = c.timeout or 5 }
  if r.error then return false, target, r.error end
  return true, target, "connected"
end

function probe.http(c, scope)
  local url = expr.render(c.http, scope)
  local r = await_http { url = url, timeout = c.timeout or 10, verify = c.verify }
  if r.error then return false, url, r.error end
  local want = c.expect
  local ok = want and r.status == want or (not want and r.status >= 200 and r.status < 400)
  local detail = "HTTP " .. r.status
  if ok and c.body then
    local pattern = expr.render(c.body, scope)
    if not r.body:find(pattern, 1, true) then
      ok = false
      detail = detail .. ", body lacks '" .. pattern .. "'"
    else
      detail = detail .. ", body has '" .. pattern .. "'"
    end
  elseif not ok then
    detail = detail .. (want and (", expected " .. want) or "")
  end
  return ok, url, detail, secrets.redact(r.body):sub(1, 500)
end

function probe.exec(c, scope)
  local argv, shown = command.argv(c.exec, scope)
  local r = api.exec(argv, { check = false, timeout = c.timeout or 30, show = shown })
  local out = secrets.redact(r.stdout .. r.stderr):sub(1, 500) -- never half a secret
  return r.code == 0, shown, "exit " .. r.code, out
end

function probe.lua(c, scope, plan)
  local v = sandbox.run(c.lua, "=health", scope, plan.dir)
  return v and true or false, "lua", v and "true" or tostring(v)
end

-- Runs every check of a machine; returns the evidence list or raises
-- with the first check that did not pass in time.
function M.run(checks, scope, plan)
  local evidence = {}
  for i, c in ipairs(checks or {}) do
    local within = c.within or 60
    local every = c.every or 1
    local started = core.now()
    local attempts, last = 0, {}
    local ok, err = pcall(api.wait_until, function()
      attempts = attempts + 1
      local pok, good, target, detail, body = pcall(probe[c.kind], c, scope, plan)
      if not pok then last = { detail = tostring(good) }; error(good, 0) end
      last = { target = target, detail = detail, body = body }
      if not good then error(detail, 0) end
      return true
    end, { within = within, every = every })
    evidence[i] = { kind = c.kind, name = c.name, target = last.target, passed = ok, attempts = attempts,
      seconds = core.now() - started, last = last.detail, body = last.body }
    if not ok then
      local e = setmetatable({ evidence = evidence }, { __tostring = function()
        return string.format("health check %d (%s %s) failed: %s", i, c.kind, last.target or "",
          tostring(err):gsub("^[^:]*:%d+: ", "")) end })
      error(sched.trust(e), 0)
    end
  end
  return evidence
end

return M
