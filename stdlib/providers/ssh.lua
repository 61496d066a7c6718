-- providers/ssh.lua: each machine is a host reached over SSH
-- (`hosts: {MACHINE: user@address[:port]}`), and lifeboat itself is the
-- replication agent there: a sync runs `lifeboat sync` on the host,
-- straight into the store, and a restore `lifeboat restore` on the
-- recovery host. The machine's start, stop, quiesce, prepare and exec
-- health commands run on its host too; network health checks run from
-- here to the host's address.
--
-- OpenSSH does the talking: one control master per host and job (its
-- sessions share one connection), keys and known hosts the site names,
-- unknown host keys refused, connect timeouts and keepalives so a host
-- that goes away fails its step instead of hanging it. Secrets (the
-- store's credentials, its key) travel on the session's stdin and become
-- the remote command's environment: never a command line, never a file.
--
-- Every process started on a host has a pid file there (its pid and start
-- time) before lifeboat records it, so a resumed or retried step stops
-- the one an earlier attempt started instead of running it twice.
local api = require("lifeboat.api")
local expr = require("lifeboat.expr")
local json = require("lifeboat.json")
local sched = require("lifeboat.sched")
local secrets = require("lifeboat.secrets")
local state = require("lifeboat.state")
local store = require("lifeboat.store")
local util = require("lifeboat.util")
local base = require("providers.local")

local P = { name = "ssh" }

P.DEFAULTS = { agent_dir = ".lifeboat", connect_timeout = 10, max_sessions = 4, max_hosts = 16,
  max_clock_skew = 60, keepalive = 3 }

function P.keys(t)
  return {
    site = {
      hosts = t.dict(t.str()),
      identity = t.str(),
      known_hosts = t.str(),
      agent_dir = t.str(),
      agent_install = t.bool,
      connect_timeout = t.dur,
      max_sessions = t.int { min = 1, max = 64 },
      max_hosts = t.int { min = 1, max = 1024 },
      max_clock_skew = t.dur,
    },
  }
end


local function opt(site, key) local v = site.raw[key]; if v == nil then return P.DEFAULTS[key] end; return v end

-- "user@host[:port]", "host", "user@[v6]:port" -> {user, host, port}; nil, why
function P.parse_host(text)
  if type(text) ~= "string" then return nil, "is not a string" end
  local user, rest = text:match("^([^@]+)@(.+)$")
  if not user then rest = text end
  if user and not user:match("^[%w._-]+$") then return nil, "has a user name with characters other than letters, digits, . _ -" end
  local host, port = rest:match("^%[([%x:]+)%]:?(%d*)$")
  if not host then host, port = rest:match("^([%w.-]+):?(%d*)$") end
  if not host or host:sub(1, 1) == "-" then return nil, "is not user@address[:port]" end
  port = port ~= "" and tonumber(port) or 22
  if port < 1 or port > 65535 then return nil, "has a port outside 1-65535" end
  return { user = user, host = host, port = math.tointeger(port) }
end

-- A machine's host: {user, host, port, dest (user@host:port, for messages and keys)}.
local function conn_of(site, mname)
  local text = (site.raw.hosts or {})[mname]
  if not text then error(string.format("site '%s' names no host for machine '%s'", site.name, mname), 0) end
  local c, why = P.parse_host(text)
  if not c then error(string.format("site '%s': the host of '%s' (%s) %s", site.name, mname, text, why), 0) end
  c.dest = (c.user and (c.user .. "@") or "") .. c.host .. (c.port ~= 22 and (":" .. c.port) or "")
  c.site, c.machine = site.name, mname
  return c
end

function P.address(site, mname)
  local c = P.parse_host((site.raw.hosts or {})[mname])
  return c and c.host or nil
end

local function plan_file(plan, path) return util.join(core.fs.realpath(plan.dir) or plan.dir, path) end

function P.dataset_path(site, machine, ds)
  return util.join(site.raw.root or "/", ds.path) -- plans without root do not validate
end

local function q(s) return "'" .. (tostring(s):gsub("'", "'\\''")) .. "'" end

-- Shell functions every remote script starts with. lb_st PID: who a
-- process is: its start time (field 22 of /proc/PID/stat) and the boot,
-- empty when it is gone. lb_stop PIDFILE GRACE [group]: stops the process
-- (group) a pid file names while it is still that process (TERM, KILL
-- after GRACE s), then drops the file; fails when it does not stop.
local LIB = [[
lb_st() { lb_s=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f20) && [ -n "$lb_s" ] &&
  echo "$lb_s $(cat /proc/sys/kernel/random/boot_id)"; }
lb_stop() {
  [ -f "$1" ] || return 0
  read -r lb_p lb_id < "$1" || true
  if [ -n "$lb_p" ] && [ -n "$lb_id" ] && [ "$(lb_st "$lb_p")" = "$lb_id" ]; then
    lb_t=$lb_p; [ "${3:-}" = group ] && lb_t=-$lb_p
    kill -TERM "$lb_t" 2>/dev/null; lb_i=0
    while [ "$(lb_st "$lb_p")" = "$lb_id" ] && [ $lb_i -lt $(($2 * 10)) ]; do sleep 0.1; lb_i=$((lb_i + 1)); done
    if [ "$(lb_st "$lb_p")" = "$lb_id" ]; then
      kill -KILL "$lb_t" 2>/dev/null; sleep 0.2
      [ "$(lb_st "$lb_p")" = "$lb_id" ] && { echo "pid $lb_p ($1) does not stop" >&2; return 1; }
    fi
    echo "stopped $lb_p"
  fi
  rm -f "$1"
}
]]

-- The environment reaches the remote command on stdin, one NAME VALUE
-- line each (the value as printf octal escapes, so any byte but NUL
-- travels), ended by an empty line; what follows is the command's stdin.
local PRELUDE = 'while IFS= read -r lb_kv && [ -n "$lb_kv" ]; do lb_v=$(printf "${lb_kv#* }"; printf x); ' ..
  'export "${lb_kv%% *}=${lb_v%x}" || exit 125; done; '

local function env_lines(env)
  local out = {}
  for _, k in ipairs(util.sorted_keys(env or {})) do
    local v = env[k]
    if v == true then v = core.getenv(k) end
    if v and v ~= false then
      if not tostring(k):match("^[%a_][%w_]*$") then error("exec: env name '" .. tostring(k) .. "' is not a variable name", 0) end
      v = tostring(v)
      if secrets.is_secret_name(k) then secrets.remember(v) end
      if v:find("\0", 1, true) then error("exec: the value of " .. k .. " holds a NUL byte", 0) end
      out[#out + 1] = k .. " " .. v:gsub(".", function(c) return string.format("\\%03o", c:byte()) end)
    end
  end
  out[#out + 1] = ""
  return table.concat(out, "\n") .. "\n"
end

-- The remote command line for argv (in cwd, after the prelude and LIB).
local function remote_line(argv, cwd, script_first)
  local body = PRELUDE .. LIB .. (cwd and ("cd " .. q(cwd) .. " || exit 125; ") or "") .. (script_first or "") ..
    'exec "$@"'
  local words = { "sh", "-c", q(body), "lifeboat-remote" }
  for _, a in ipairs(argv) do words[#words + 1] = q(a) end
  return table.concat(words, " ")
end

-- Where a host's control sockets live: STATE/ssh, or a folder in /tmp
-- named after it when that path is too long for a socket (ssh binds
-- PATH.<16 characters> first; sun_path holds 107). It must be this user's
-- own folder, mode 0700, not a link: whoever can put a socket there gets
-- the sessions, and their stdin carries the store's secrets.
local function control_dir(rt)
  if rt.ssh_dir ~= nil then return rt.ssh_dir end
  local dir = rt.state_dir and (core.fs.realpath(rt.state_dir) or rt.state_dir) .. "/ssh"
  if not dir then rt.ssh_dir = false; return false end
  if #dir + 1 + 24 + 17 > 107 then dir = "/tmp/lifeboat-ssh-" .. core.uid() .. "-" .. core.sha256(dir):sub(1, 12) end
  core.fs.mkdir(dir, 448) -- 0700
  local st = core.fs.stat(dir)
  if not st or st.type ~= "dir" or st.uid ~= core.uid() or st.mode & 63 ~= 0 then
    error(string.format("%s (the ssh control sockets) must be a folder of this user with mode 0700", dir), 0)
  end
  rt.ssh_dir = dir
  return dir
end

-- A control socket per host, key and known hosts (two plans sharing a
-- state folder never share a session checked against other host keys).
local function control_path(rt, site, c)
  local dir = control_dir(rt)
  if not dir then return nil end
  local id = table.concat({ c.dest, tostring(site.raw.identity), tostring(site.raw.known_hosts), site.plan.dir }, "\n")
  return dir .. "/" .. core.sha256(id):sub(1, 24)
end

local function ssh_base(rt, site, c)
  local plan = site.plan
  local argv = { "ssh", "-T", "-F", "/dev/null", "-p", tostring(c.port),
    "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes", "-o", "GlobalKnownHostsFile=/dev/null",
    "-o", "ConnectTimeout=" .. math.ceil(opt(site, "connect_timeout")),
    "-o", "ServerAliveInterval=" .. P.DEFAULTS.keepalive, "-o", "ServerAliveCountMax=3", "-o", "LogLevel=ERROR" }
  if site.raw.identity then
    for _, a in ipairs({ "-i", plan_file(plan, site.raw.identity), "-o", "IdentitiesOnly=yes" }) do argv[#argv + 1] = a end
  end
  if site.raw.known_hosts then
    argv[#argv + 1] = "-o"; argv[#argv + 1] = "UserKnownHostsFile=" .. plan_file(plan, site.raw.known_hosts)
  end
  if c.user then argv[#argv + 1] = "-l"; argv[#argv + 1] = c.user end
  local cp = control_path(rt, site, c)
  if cp then argv[#argv + 1] = "-o"; argv[#argv + 1] = "ControlPath=" .. cp end
  return argv
end

local function ssh_argv(rt, site, c, line)
  local argv = ssh_base(rt, site, c)
  for _, a in ipairs({ "-o", "ControlMaster=no", c.host, "--", line }) do argv[#argv + 1] = a end
  return argv
end

local function tail(s, n)
  s = (s or ""):gsub("%s+$", "")
  if #s > n then s = "..." .. s:sub(-n) end
  return s
end

-- Waits for a free slot of the host and of the site: at most max_sessions
-- commands on one host, max_hosts hosts of the site at a time.
local busy = {}
local function acquire(key, limit)
  while (busy[key] or 0) >= limit do sched.sleep(0.05) end
  busy[key] = (busy[key] or 0) + 1
end
local function release(key) busy[key] = busy[key] - 1 end

local function unreachable(c, r)
  local said = (r.stderr ~= "" and r.stderr or "ssh exited 255"):gsub("\r", ""):gsub("\n+", " ")
  return string.format("ssh to host %s of %s failed: %s", c.dest, c.machine, tail(secrets.redact(said), 300))
end

-- One control master per host and job: started in the background (its
-- output to a file, as it outlives the command that starts it) and kept
-- 60 s after its last session.
local function ensure_master(rt, site, c)
  rt.ssh_masters = rt.ssh_masters or {}
  local key = control_path(rt, site, c)
  while rt.ssh_masters[key] == "starting" do sched.sleep(0.05) end -- another step is making it
  if rt.ssh_masters[key] or not key then return end
  rt.ssh_masters[key] = "starting"
  local ok, e = pcall(function()
    local check = ssh_base(rt, site, c)
    for _, a in ipairs({ "-O", "check", c.host }) do check[#check + 1] = a end
    local shown = "ssh -O check " .. c.dest
    if api.exec(check, { check = false, timeout = 10, netns = false, show = shown }).code == 0 then return end
    local argv = ssh_base(rt, site, c)
    for _, a in ipairs({ "-o", "ControlMaster=yes", "-o", "ControlPersist=60", "-N", "-f", c.host }) do argv[#argv + 1] = a end
    local log = key .. ".log"
    core.fs.remove(log)
    local pid, err = core.spawn { argv = argv, log = log }
    if not pid then error(err, 0) end
    -- with -f, ssh goes to the background once the host let it in
    local deadline = core.mono() + opt(site, "connect_timeout") + 5
    while core.alive(pid) and core.mono() < deadline do sched.sleep(0.05) end
    if core.alive(pid) then core.kill(pid, "KILL") end
    if api.exec(check, { check = false, timeout = 10, netns = false, show = shown }).code ~= 0 then
      error(unreachable(c, { stderr = core.fs.read(log) or "" }), 0)
    end
  end)
  rt.ssh_masters[key] = ok or nil
  if not ok then error(e, 0) end
end

-- Runs argv on the machine's host; returns {code, stdout, stderr}.
-- opts: env, cwd, stdin, timeout, script (shell code before the exec),
-- show, check (raise when it exits non-zero).
local function remote(ctx, c, argv, opts)
  opts = opts or {}
  local rt, site = ctx.rt, ctx.site
  ensure_master(rt, site, c)
  -- the slots go back however this ends: also when the step is timed out
  -- or interrupted while it waits (its coroutine is closed)
  local held = {}
  local _ <close> = setmetatable({}, { __close = function() for _, k in ipairs(held) do release(k) end end })
  for _, slot in ipairs({ { "site:" .. site.name, opt(site, "max_hosts") }, { "host:" .. c.dest, opt(site, "max_sessions") } }) do
    acquire(slot[1], slot[2])
    held[#held + 1] = slot[1]
  end
  local r = api.exec(ssh_argv(rt, site, c, remote_line(argv, opts.cwd, opts.script)),
    { check = false, netns = false, stdin = env_lines(opts.env) .. (opts.stdin or ""), timeout = opts.timeout,
      max_output = opts.max_output, show = (opts.show or table.concat(argv, " ")) .. "  [on " .. c.dest .. "]" })
  if r.code == 255 then error(unreachable(c, r), 0) end
  if opts.check and r.code ~= 0 then
    error(string.format("%s on %s exited %d: %s", opts.show or argv[1], c.dest, r.code,
      tail(secrets.redact(r.stderr ~= "" and r.stderr or r.stdout), 300)), 0)
  end
  return r
end

-- The wrapper api.exec uses for the plan's commands of a machine at an
-- ssh site (prepare and quiesce exec:, exec health checks): the command
-- runs on the host, in the site's root when it exists there.
function P.remote(site, mname, plan, rt)
  local c = conn_of(site, mname)
  return function(argv, env, cwd, stdin)
    local line = remote_line(argv, cwd, cwd == nil and site.raw.root and ("cd " .. q(site.raw.root) .. " 2>/dev/null; ") or nil)
    return ssh_argv(rt, site, c, line), env_lines(env) .. (stdin or "")
  end
end

local function agent_dir(site) return opt(site, "agent_dir") end
local function agent_path(site) return agent_dir(site) .. "/bin/lifeboat" end
local function pid_file(site, kind, mname) return agent_dir(site) .. "/run/" .. kind .. "." .. mname .. "." .. site.name .. ".pid" end

-- This program's own facts, asked once: the machine type and the binary's sha256.
local self_facts
local function self()
  if not self_facts then
    local arch = api.exec({ "uname", "-m" }, { netns = false }).stdout:gsub("%s+$", "")
    local exe = core.self_exe()
    local bin = assert(core.fs.read(exe))
    local version = json.decode(api.exec({ exe, "version", "--json" }, { netns = false }).stdout) or {}
    self_facts = { arch = arch, exe = exe, bin = bin, sha = core.sha256(bin), version = version.lifeboat or "?" }
  end
  return self_facts
end

-- What a host says about itself: machine type, clock, the agent's sha256 and version.
local PROBE = [[uname -m; date +%s.%N; if [ -x "$1" ]; then sha256sum "$1" | cut -d' ' -f1; "$1" version --json 2>&1 | head -c 300; echo; else echo none; fi]]

-- Copies this binary to the host, tries it there, then moves it into place.
local INSTALL = [[set -e; t="$1.new.$$"; trap 'rm -f "$t"' EXIT; mkdir -p "$(dirname "$1")"; cat > "$t"; chmod 755 "$t"
if ! out=$("$t" version --json 2>&1); then printf '%s\n' "$out" >&2; exit 3; fi
mv -f "$t" "$1"; trap - EXIT]]

local function probe(ctx, c)
  local r = remote(ctx, c, { "sh", "-c", PROBE, "probe", agent_path(ctx.site) }, { check = true, show = "probe" })
  local lines = {}
  for l in (r.stdout .. "\n"):gmatch("([^\n]*)\n") do lines[#lines + 1] = l end
  local v = lines[4] and json.decode(lines[4])
  return { arch = lines[1], time = tonumber(lines[2]) or tonumber((lines[2] or ""):match("^(%d+)")), sha = lines[3], version = type(v) == "table" and v.lifeboat or nil,
    said = lines[4] }
end

-- Makes sure the host can run this lifeboat: same machine type, a clock
-- that agrees with ours, and this very binary (copied when it differs,
-- unless agent_install is false). Once per host and job. Returns what it did.
function P.ensure_agent(ctx, c, install_anyway)
  ctx.rt.ssh_agents = ctx.rt.ssh_agents or {}
  local cache_key = c.dest .. " " .. agent_path(ctx.site)
  local known = ctx.rt.ssh_agents[cache_key]
  if known and not install_anyway then return known end
  local me, site = self(), ctx.site
  local t0 = core.now()
  local h = probe(ctx, c)
  if not h.time then error(string.format("host %s of %s: its clock cannot be read (date +%%s said %q)", c.dest, c.machine, tostring(h.said)), 0) end
  local skew = h.time - (t0 + core.now()) / 2
  if h.arch ~= me.arch then
    error(string.format("host %s of %s is %s, this lifeboat is built for %s: install lifeboat there by hand",
      c.dest, c.machine, tostring(h.arch), me.arch), 0)
  end
  if math.abs(skew) > opt(site, "max_clock_skew") then
    error(string.format("host %s of %s: its clock is %s %s this host's, over the %s allowed (max_clock_skew): " ..
      "points it takes would carry a wrong time; set its clock right (NTP) first", c.dest, c.machine,
      util.fmt_duration(math.abs(skew)), skew < 0 and "behind" or "ahead of", util.fmt_duration(opt(site, "max_clock_skew"))), 0)
  end
  local did = { dest = c.dest, version = me.version, skew = skew }
  if h.sha ~= me.sha then
    local had
    if h.sha ~= "none" then had = "lifeboat " .. (h.version or ("that does not run: " .. tail(h.said, 120))) end
    if site.raw.agent_install == false and not install_anyway then
      error(string.format("host %s of %s has %s at %s, not this one (%s): run 'lifeboat agent install PLAN'",
        c.dest, c.machine, had or "no lifeboat", agent_path(site), me.version), 0)
    end
    local r = remote(ctx, c, { "sh", "-c", INSTALL, "install", agent_path(site) },
      { stdin = me.bin, show = "install lifeboat" })
    if r.code == 3 then
      error(string.format("host %s of %s cannot run this lifeboat: %s", c.dest, c.machine, tail(r.stderr, 300)), 0)
    elseif r.code ~= 0 then
      error(string.format("copying lifeboat to host %s of %s failed: %s", c.dest, c.machine,
        tail(r.stderr ~= "" and r.stderr or r.stdout, 300)), 0)
    end
    if had then api.log("%s: %s at %s replaced by lifeboat %s", c.dest, had, agent_path(site), me.version)
    else api.log("%s: lifeboat %s installed at %s", c.dest, me.version, agent_path(site)) end
    did.installed, did.had = true, had
  end
  ctx.rt.ssh_agents[cache_key] = did
  return did
end

-- `lifeboat agent status`: what the machine's host has, without changing it.
function P.agent_status(ctx, mname)
  local c = conn_of(ctx.site, mname)
  local me = self()
  local t0 = core.now()
  local h = probe(ctx, c)
  return { host = c.dest, arch = h.arch, clock_skew = (h.time or t0) - (t0 + core.now()) / 2,
    agent = agent_path(ctx.site), version = h.version, current = h.sha == me.sha,
    state = h.sha == "none" and "missing" or h.sha == me.sha and "current" or "differs" }
end

-- `lifeboat agent install`: this binary on the machine's host, whatever it has.
function P.agent_install(ctx, mname)
  local did = P.ensure_agent(ctx, conn_of(ctx.site, mname), true)
  return { host = did.dest, agent = agent_path(ctx.site), version = did.version, clock_skew = did.skew,
    state = did.installed and "installed" or "current", had = did.had }
end

-- The environment a lifeboat on a host needs for the store: the
-- credentials this process has, and the key file's content as the
-- passphrase (the same secret: a key file's bytes are what a passphrase is).
local function agent_env(rt)
  local env = store.child_env()
  env.LIFEBOAT_KEY_FILE = nil
  local key_file = rt.store and rt.store.key_file or core.getenv("LIFEBOAT_KEY_FILE")
  if key_file then
    local k, e = core.fs.read(key_file)
    if not k then error("the store's key file: " .. tostring(e), 0) end
    k = k:gsub("[\r\n \t]+$", "")
    if k:find("[%z\n]") then error("the store's key file " .. key_file .. " holds NUL bytes or line breaks: hosts cannot be given it", 0) end
    secrets.remember(k)
    env.LIFEBOAT_PASSPHRASE = k
  end
  return env
end

-- Runs `lifeboat ARGS --store URL --json` on the host (one at a time per
-- machine: a pid file stops what an earlier, interrupted attempt left
-- running; one whose process is gone is dropped by the next, which saves
-- a session per command); returns the decoded answer.
local function agent(ctx, c, args)
  local rt, site = ctx.rt, ctx.site
  if not rt.store then error("the plan names no replica store", 0) end
  P.ensure_agent(ctx, c)
  local argv = { agent_path(site) }
  for _, a in ipairs(args) do argv[#argv + 1] = a end
  for _, a in ipairs({ "--store", rt.store.url, "--json" }) do argv[#argv + 1] = a end
  local pf = pid_file(site, "agent", c.machine)
  local r = remote(ctx, c, argv, { env = agent_env(rt), max_output = math.maxinteger,
    show = "lifeboat " .. table.concat(args, " "),
    script = "mkdir -p " .. q(util.dirname(pf)) .. " && lb_stop " .. q(pf) .. " 10 >&2 && echo \"$$ $(lb_st $$)\" > " ..
      q(pf) .. " || exit 125; " })
  if r.code ~= 0 then
    error(string.format("on %s: %s", c.dest, tail(secrets.redact(r.stderr ~= "" and r.stderr or r.stdout), 400)), 0)
  end
  local v = json.decode(r.stdout)
  if type(v) ~= "table" then error(string.format("lifeboat %s on %s answered what is not JSON: %s", args[1], c.dest, r.stdout:sub(1, 120)), 0) end
  return v
end

local record = base.record

function P.describe(what, site, mname, plan)
  local m = plan.raw.machines[mname]
  local host = (site.raw.hosts or {})[mname] or "?"
  local names = {}
  for _, d in ipairs(m.datasets or {}) do names[#names + 1] = d.name end
  local ds = #names > 0 and table.concat(names, ", ") or "no datasets"
  if what == "restore" then return string.format("restore %s of %s on %s (lifeboat restore there)", ds, mname, host) end
  if what == "sync" then return string.format("sync %s of %s on %s (lifeboat sync there)", ds, mname, host) end
  if what == "start" then return string.format("start %s on %s: %s", mname, host, expr.text(m.start or "-")) end
  if what == "stop" then return string.format("stop %s on %s%s", mname, host, m.stop and (": " .. expr.text(m.stop)) or "") end
  if what == "remove" then return string.format("remove what lifeboat created for %s on %s", mname, host) end
  if what == "health" then return string.format("health of %s: %d check(s)", mname, #(m.health or {})) end
  return what .. " " .. mname .. " on " .. host
end

local function file_problem(plan, site, key)
  local v = site.raw[key]
  if not v then return nil end
  local path = plan_file(plan, v)
  if path:find("[%s%%]") then return string.format("site '%s': %s %s: ssh cannot take a path with spaces or %%", site.name, key, path) end
  local st = core.fs.stat(path)
  if not st then return string.format("site '%s': %s %s does not exist", site.name, key, v) end
  if st.type ~= "file" then return string.format("site '%s': %s %s is not a file", site.name, key, v) end
end

function P.preflight(site, plan, op)
  local problems = {}
  local function add(fmt, ...) problems[#problems + 1] = string.format(fmt, ...) end
  if not base.on_path("ssh") then add("ssh is not installed (Debian package openssh-client)") end
  if not site.raw.known_hosts then add("site '%s' names no known_hosts file: hosts' keys must be checked", site.name) end
  for _, key in ipairs({ "identity", "known_hosts" }) do
    local p = file_problem(plan, site, key)
    if p then problems[#problems + 1] = p end
  end
  local url = plan.raw.store
  if url and not url:match("^%a[%w+.-]*://") or (url and url:match("^file://")) then
    add("site '%s': the ssh provider's hosts reach the store themselves, so it must be a remote store " ..
      "(s3://, az://, sftp://), not the folder %s", site.name, url)
  end
  for _, name in ipairs(plan.machine_order) do
    if not (site.raw.hosts or {})[name] then add("site '%s' names no host for machine '%s'", site.name, name) end
  end
  return problems
end

function P.check_site(name, site, plan, at, ctx)
  for m, text in pairs(site.hosts or {}) do
    local ok, why = P.parse_host(text)
    if not ok then at(ctx.pos[site.hosts] and ctx.pos[site.hosts][m] or nil, "site '%s': host of '%s' (%s) %s", name, m, tostring(text), why) end
    if plan.machines and not plan.machines[m] then at(nil, "site '%s': hosts names '%s', which is not a machine", name, m) end
  end
  if not site.root then
    at(ctx.pos[site] and ctx.pos[site].provider or nil, "site '%s': an ssh site needs root, the folder of its datasets on each host", name)
  elseif site.root:sub(1, 1) ~= "/" or site.root:match("^/+$") then
    at(ctx.pos[site] and ctx.pos[site].root or nil, "site '%s': root is a folder on each host and must be absolute (%s)", name, site.root)
  end
end

function P.sync(ctx)
  local m, c = ctx.machine_view, conn_of(ctx.site, ctx.machine_view.name)
  local out = {}
  for _, d in ipairs(ctx.machine.datasets or {}) do
    local args = { "sync", m.datasets[d.name], "--as", m.name .. "/" .. d.name, "--consistency", ctx.consistency or "crash",
      "--site", ctx.site.name, "--run", ctx.rt.run_id or ctx.job.id }
    local block = d.block_size or (ctx.plan.raw.policy or {}).block_size
    if block and d.kind == "image" then args[#args + 1] = "--block-size"; args[#args + 1] = tostring(block) end
    local r = agent(ctx, c, args)
    out[d.name] = { point = r.point, bytes_added = r.bytes_added, bytes_read = r.bytes_read, seconds = r.seconds }
  end
  return { datasets = out, consistency = ctx.consistency or "crash", host = c.dest }
end

function P.restore(ctx)
  local rt, m, site = ctx.rt, ctx.machine_view, ctx.site
  local c = conn_of(site, m.name)
  local out = {}
  for _, d in ipairs(ctx.machine.datasets or {}) do
    local path = m.datasets[d.name]
    local p = store.point_for(rt, ctx.plan, m.name, d.name)
    local exists = remote(ctx, c, { "test", "-e", path }, { show = "test -e " .. path }).code == 0
    if not exists then record(ctx, { kind = "path", path = path, host = c.dest }) end
    remote(ctx, c, { "mkdir", "-p", util.dirname(path) }, { check = true })
    local args = { "restore", m.name .. "/" .. d.name .. "@" .. p.id, path }
    if exists then args[#args + 1] = "--delta" end
    local r = agent(ctx, c, args)
    local age = core.now() - (p.unix or core.now())
    out[d.name] = { point = p.id, time = p.time, consistency = p.consistency, age = age,
      bytes_written = r.bytes_written, seconds = r.seconds, delta = exists or nil }
    api.log("%s/%s: point %s (%s, %s old) -> %s:%s", m.name, d.name, p.id, p.consistency, util.fmt_duration(age), c.dest, path)
  end
  return { datasets = out, host = c.dest }
end

-- Starts the machine's start command on its host in a session of its own
-- (output to AGENT_DIR/log/MACHINE.SITE.out there), after stopping what an
-- earlier start left running; fails when it exits within 0.3 s.
local START = [[
pf=$1 log=$2 root=$3; shift 3
case $pf in /*) ;; *) pf=$HOME/$pf ;; esac
case $log in /*) ;; *) log=$HOME/$log ;; esac
mkdir -p "$(dirname "$pf")" "$(dirname "$log")" "$root" && cd "$root" || exit 125
lb_stop "$pf" 15 group >&2 || exit 125
setsid "$@" </dev/null >"$log" 2>&1 &
p=$!; id=$(lb_st $p); echo "$p $id" > "$pf"
sleep 0.3
if [ "$(lb_st $p)" != "$id" ]; then tail -c 400 "$log" >&2; rm -f "$pf"; exit 4; fi
echo "$p $id"
]]

function P.start(ctx)
  local m, site = ctx.machine, ctx.site
  if not m.start then return { started = false, why = "no start command" } end
  local c = conn_of(site, ctx.machine_view.name)
  local argv = require("lifeboat.command").argv(m.start, ctx.scope)
  local pf = pid_file(site, "start", c.machine)
  local log = agent_dir(site) .. "/log/" .. c.machine .. "." .. site.name .. ".out"
  record(ctx, { kind = "process", ref = ctx.step.id .. "#" .. ctx.step.attempt, host = c.dest, pidfile = pf })
  local full = { "sh", "-c", LIB .. START, "start", pf, log, site.raw.root }
  for _, a in ipairs(argv) do full[#full + 1] = a end
  local r = remote(ctx, c, full, { show = "start " .. c.machine })
  if r.code == 4 then
    local said = tail(r.stderr, 400)
    error(string.format("the start command exited at once on %s%s", c.dest, said ~= "" and (": " .. said) or ""), 0)
  elseif r.code ~= 0 then
    error(string.format("starting %s on %s failed (exit %d): %s", c.machine, c.dest, r.code, tail(r.stderr, 300)), 0)
  end
  local pid = math.tointeger(tonumber(r.stdout:match("^(%d+)")))
  return { pid = pid, host = c.dest, log = c.dest .. ":" .. log }
end

-- Stops what lifeboat started for the machine on its host.
local function stop_started(ctx, c, grace)
  local pf = pid_file(ctx.site, "start", c.machine)
  local r = remote(ctx, c, { "sh", "-c", LIB .. 'lb_stop "$1" "$2" group', "stop", pf, tostring(grace) },
    { check = true, show = "stop what lifeboat started" })
  local pid = math.tointeger(tonumber(r.stdout:match("stopped (%d+)")))
  for _, res in ipairs(state.resources(ctx.rt.state_dir, ctx.site.name, c.machine, ctx.job.id)) do
    if res.kind == "process" and res.ref then record(ctx, { ev = "removed", kind = "process", ref = res.ref }) end
  end
  return pid
end

function P.stop(ctx)
  local m, site = ctx.machine, ctx.site
  local c = conn_of(site, ctx.machine_view.name)
  local done, failed = {}, nil
  if m.stop then
    local argv = require("lifeboat.command").argv(m.stop, ctx.scope)
    local r = remote(ctx, c, argv, { timeout = 120, show = expr.text(m.stop),
      script = site.raw.root and ("cd " .. q(site.raw.root) .. " 2>/dev/null; ") or nil })
    done.command = r.code
    if r.code ~= 0 then
      local said = tail(r.stderr .. r.stdout, 300)
      failed = string.format("the stop command exited %d on %s%s", r.code, c.dest, said ~= "" and (": " .. said) or "")
    end
  end
  done.stopped = stop_started(ctx, c, 15)
  if failed then error(failed, 0) end
  return done
end

function P.running(ctx)
  local c = conn_of(ctx.site, ctx.machine_view.name)
  local r = remote(ctx, c, { "sh", "-c", LIB .. '[ -f "$1" ] && read -r p s < "$1" && [ "$(lb_st "$p")" = "$s" ]', "running",
    pid_file(ctx.site, "start", c.machine) }, { show = "is it running" })
  return r.code == 0
end

-- Removes what jobs created for the machine on its host, never anything
-- outside the site's root there.
function P.remove(ctx)
  local site = ctx.site
  local c = conn_of(site, ctx.machine_view.name)
  local root = site.raw.root:gsub("/+$", "")
  local removed = {}
  stop_started(ctx, c, 5)
  for _, res in ipairs(state.resources(ctx.rt.state_dir, site.name, c.machine, ctx.job.id)) do
    if res.kind == "path" then
      if res.host and res.host ~= c.dest then
        error(string.format("%s was restored on %s, which the plan no longer names for %s: remove it there by hand",
          res.path, res.host, c.machine), 0)
      end
      if res.path:sub(1, #root + 1) ~= root .. "/" or res.path:find("/%.%./") or res.path:find("/%.%.$") then
        error("refusing to remove " .. res.path .. " on " .. c.dest .. ": outside the site's root " .. root, 0)
      end
      remote(ctx, c, { "rm", "-rf", "--one-file-system", "--", res.path }, { check = true })
      record(ctx, { ev = "removed", kind = "path", path = res.path, host = c.dest })
      removed[#removed + 1] = c.dest .. ":" .. res.path
    end
  end
  return { removed = removed }
end

return P
