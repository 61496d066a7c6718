-- api.lua: the `lifeboat` table plan code and stdlib use. Blocking calls
-- hand their work to the C worker pool and yield the step's coroutine.
local json = require("lifeboat.json")
local readonly = require("lifeboat.readonly")
local sched = require("lifeboat.sched")
local secrets = require("lifeboat.secrets")
local util = require("lifeboat.util")

local M = {}

-- Where log() writes: set by the runner for each step (sink(step, text,
-- level), level "info", "warn" or "error").
M.sink = function(_, text, level)
  core.write(2, (level ~= "info" and (level .. ": ") or "") .. secrets.redact(text) .. "\n")
end

local function logger(level)
  return function(fmt, ...)
    local text = select("#", ...) > 0 and string.format(fmt, ...) or tostring(fmt)
    M.sink(sched.current, text, level)
  end
end

-- log(fmt, ...) is log.info; log.warn and log.error say more is wrong.
M.log = setmetatable({ info = logger("info"), warn = logger("warn"), error = logger("error") },
  { __call = function(_, ...) return logger("info")(...) end })

local function tail(s, n)
  s = s or ""
  if #s > n then s = "..." .. s:sub(-n) end
  return (s:gsub("%s+$", ""))
end

-- The env of an exec: a plain copy (any table that pairs() walks), and a
-- secret-bearing value it names is remembered for redaction.
local function child_env(env)
  if env == nil then return nil end
  if type(env) ~= "table" then error("exec: env must be a table of NAME = value", 3) end
  local out = {}
  for k, v in pairs(env) do
    out[k] = v
    if secrets.is_secret_name(k) then secrets.remember(v == true and core.getenv(k) or v) end
  end
  return out
end

-- exec(CMD [, opts]): CMD is a shell string or an argv list. opts: env
-- (added to the clean base environment children get: true passes this
-- process's value of a name on, false leaves it out), cwd, stdin, timeout
-- (seconds or "30s"), max_output (bytes per stream), check (default true:
-- a non-zero exit raises), show (the command as logs show it). Returns
-- {code, stdout, stderr, ok, seconds}. A step of a machine on a host
-- (the ssh provider) runs its commands there: opts.remote or the step's
-- remote wraps argv, env, cwd and stdin into the local command that does
-- it; netns = false runs the command here whatever the step.
-- The network namespace a command or request runs in: the one named, none
-- for false, else that of the running step's site (a drill's isolated
-- network, a site's own network), if it has one.
function M.netns(want)
  if want == false then return nil end
  if want ~= nil then return want end
  return sched.current and sched.current.netns or nil
end

function M.exec(cmd, opts)
  opts = opts or {}
  local argv
  if type(cmd) == "string" then argv = { "/bin/sh", "-c", cmd }
  elseif type(cmd) == "table" and #cmd > 0 then
    argv = {}
    for i, a in ipairs(cmd) do argv[i] = tostring(a) end
  else error("exec: a command string or an argv list is needed", 2) end
  local timeout = opts.timeout
  if type(timeout) == "string" then timeout = util.parse_duration(timeout) end
  local env, cwd, stdin = child_env(opts.env), opts.cwd, opts.stdin
  local shown = opts.show or (type(cmd) == "string" and cmd or table.concat(argv, " "))
  local wrap = opts.netns ~= false and (opts.remote or (sched.current and sched.current.remote))
  if wrap then
    argv, stdin = wrap(argv, env, cwd, stdin)
    env, cwd = nil, nil
  end
  local r = sched.await(core.exec { argv = argv, env = env, cwd = cwd, stdin = stdin,
    timeout = timeout, max_output = opts.max_output, netns = M.netns(opts.netns) })
  if r.error then error("exec: " .. r.error, 2) end
  r.ok = r.code == 0 and not r.timed_out
  if sched.current and M.step_log then
    M.step_log(sched.current, string.format("$ %s\n%s%s[exit %d, %s]\n", shown, r.stdout,
      r.stderr ~= "" and ("[stderr]\n" .. r.stderr) or "", r.code, util.fmt_duration(r.seconds)))
  end
  if r.timed_out then error(string.format("'%s' timed out after %s", shown, util.fmt_duration(timeout)), 2) end
  if r.cancelled then error("interrupted", 2) end
  if opts.check ~= false and r.code ~= 0 then
    local why = tail(secrets.redact(r.stderr ~= "" and r.stderr or r.stdout), 300) -- never half a secret
    error(string.format("'%s' exited %d%s", shown, r.code, why ~= "" and (": " .. why) or ""), 2)
  end
  return r
end

-- http(REQUEST) or http(URL [, opts]); also http.get/post/put/delete.
-- REQUEST: url, method, headers, body (a table is sent as JSON), timeout,
-- verify (default true), cacert. Returns {status, body, headers, json()}.
local function request(req)
  local body = req.body
  local headers = util.copy(req.headers or {})
  if type(body) == "table" then
    body = json.encode(readonly.plain(body))
    headers["Content-Type"] = headers["Content-Type"] or "application/json"
  end
  local timeout = req.timeout
  if type(timeout) == "string" then timeout = util.parse_duration(timeout) end
  local r = sched.await(core.http { url = req.url, method = req.method or (body and "POST" or "GET"),
    headers = headers, body = body, timeout = timeout or 30, verify = req.verify, cacert = req.cacert,
    max_body = req.max_body, netns = M.netns(req.netns) })
  if r.error then error(string.format("%s %s: %s", req.method or "GET", secrets.redact(req.url), r.error), 2) end
  r.json = function() return json.decode(r.body) end
  return r
end

M.http = setmetatable({}, {
  __call = function(_, a, opts)
    if type(a) == "table" then return request(a) end
    local req = util.copy(opts or {})
    req.url = a
    return request(req)
  end,
})
for _, method in ipairs({ "get", "post", "put", "delete", "head" }) do
  M.http[method] = function(url, a, b)
    local req
    if method == "get" or method == "head" or method == "delete" then req = util.copy(a or {})
    else req = util.copy(b or {}); req.body = a end
    req.url, req.method = url, method:upper()
    return request(req)
  end
end

-- encode takes the read-only views plan code holds (lifeboat/readonly.lua)
M.json = { encode = function(v, pretty) return json.encode(readonly.plain(v), pretty) end, decode = json.decode,
  null = json.null, array = json.array }

M.fs = {
  read = function(path) local d, e = core.fs.read(path); if not d then error(e, 2) end return d end,
  write = function(path, data, mode)
    local ok, e = core.fs.write(path, data, mode)
    if not ok then error(e, 2) end
    return true
  end,
  exists = function(path) local st = core.fs.stat(path); return st ~= nil, st and st.type end,
  mkdir = function(path) local ok, e = core.fs.mkdir(path); if not ok then error(e, 2) end return true end,
  remove = function(path, recursive)
    local ok, e = core.fs.remove(path, recursive)
    if not ok then error(e, 2) end
    return true
  end,
  glob = function(pattern) return core.fs.glob(pattern) end,
  list = function(path) local l, e = core.fs.list(path); if not l then error(e, 2) end return l end,
  stat = function(path) return core.fs.stat(path) end,
}

function M.now() return core.now() end

function M.sleep(secs)
  if type(secs) == "string" then secs = util.parse_duration(secs) end
  sched.sleep(secs)
end

-- wait_until(FN, {within = "60s", every = "1s"}): calls FN until it
-- returns a true value (returned) or within passes (raises with FN's last
-- error or result).
function M.wait_until(fn, opts)
  opts = opts or {}
  local within = opts.within or 60
  local every = opts.every or 1
  if type(within) == "string" then within = util.parse_duration(within) end
  if type(every) == "string" then every = util.parse_duration(every) end
  local deadline = core.mono() + within
  local last
  while true do
    local ok, v = pcall(fn)
    if ok and v then return v end
    last = ok and ("last result: " .. tostring(v)) or tostring(v)
    if core.mono() + every > deadline then
      error(string.format("not met within %s (%s)", util.fmt_duration(within), last), 2)
    end
    sched.sleep(every)
  end
end

M.secret = secrets.get

return M
