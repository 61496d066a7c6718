-- providers/local.lua: a site is a root folder on this machine. A
-- machine's datasets live under ROOT/MACHINE/PATH; `start` runs in the
-- background (its own session, pid tracked, output in the job folder),
-- `stop` runs the plan's stop command and then makes sure the processes
-- lifeboat started are gone. Data moves with this program's own sync and
-- restore commands, as a protected machine would run them itself.
--
-- Everything it creates is written to the journal before it is created,
-- so cleanup and resume find it even after kill -9.
local api = require("lifeboat.api")
local expr = require("lifeboat.expr")
local state = require("lifeboat.state")
local store = require("lifeboat.store")
local util = require("lifeboat.util")

local P = { name = "local" }

function P.dataset_path(site, machine, ds)
  if not site.root then error("site '" .. site.name .. "' needs a root folder", 0) end
  return site.root .. "/" .. machine.name .. "/" .. ds.path
end

function P.describe(what, site, mname, plan)
  local m = plan.raw.machines[mname]
  local names = {}
  for _, d in ipairs(m.datasets or {}) do names[#names + 1] = d.name end
  local ds = #names > 0 and table.concat(names, ", ") or "no datasets"
  local at = site.root or site.name
  if what == "restore" then return string.format("restore %s of %s into %s", ds, mname, at) end
  if what == "sync" then return string.format("sync %s of %s from %s", ds, mname, at) end
  if what == "start" then return string.format("start %s at %s: %s", mname, site.name, expr.text(m.start or "-")) end
  if what == "stop" then return string.format("stop %s at %s%s", mname, site.name,
    m.stop and (": " .. expr.text(m.stop)) or " (the processes lifeboat started)") end
  if what == "remove" then return string.format("remove what lifeboat created for %s under %s", mname, at) end
  if what == "health" then return string.format("health of %s: %d check(s)", mname, #(m.health or {})) end
  return what .. " " .. mname
end

-- Shell words that are not programs on PATH: builtins and keywords a
-- command string may start with.
local SHELL_WORDS = {}
for w in ("cd exec command eval export set unset umask ulimit trap source . : true false test [ " ..
  "if for while until case { ( ! wait read printf echo"):gmatch("%S+") do SHELL_WORDS[w] = true end

-- The program a command string runs: its first word after any leading
-- NAME=value assignments (a value may be quoted or a ${{ }} expression);
-- nil when that word is the shell's own.
local function program_of(text)
  local s = text
  while true do
    local rest = s:match("^%s*[%a_][%w_]*=(.*)$")
    if not rest then break end
    s = rest:match("^%${{.-}}(.*)$") or rest:match('^"[^"]*"(.*)$') or rest:match("^'[^']*'(.*)$") or
      rest:match("^[^%s]*(.*)$")
  end
  local first = s:match("^%s*(%S+)")
  if first and not SHELL_WORDS[first] then return first end
end

-- True when a program of that name is on PATH.
function P.on_path(prog)
  for dir in (core.getenv("PATH") or ""):gmatch("[^:]+") do
    if core.fs.stat(dir .. "/" .. prog) then return true end
  end
  return false
end

function P.preflight(site, plan, op)
  local problems = {}
  if not site.root then problems[#problems + 1] = "site '" .. site.name .. "' has no root folder" end
  for _, name in ipairs(plan.machine_order) do
    local m = plan.raw.machines[name]
    for _, key in ipairs({ "start", "stop" }) do
      local cmd = m[key]
      local first = type(cmd) == "table" and not expr.is_template(cmd) and expr.text(cmd[1]) or
        (cmd and program_of(expr.text(cmd)))
      if first and not first:find("${{", 1, true) and not first:find("/", 1, true) then
        if not P.on_path(first) then problems[#problems + 1] = string.format("machine '%s': %s command '%s' is not on PATH", name, key, first) end
      end
    end
  end
  return problems
end

-- Writes what a step creates or removes for its machine to the journal,
-- at once (the qemu and ssh providers record theirs the same way).
function P.record(ctx, e)
  e.ev = e.ev or "created"
  e.site, e.machine, e.step = ctx.site.name, ctx.machine_view.name, ctx.step.id
  ctx.job:event(e)
  ctx.job:flush()
end
local record = P.record

-- Syncs every dataset of the machine; more_args(dataset) may add
-- arguments of its own to one dataset's sync (a VM's changed blocks).
function P.sync(ctx, more_args)
  local rt, m = ctx.rt, ctx.machine_view
  local out = {}
  for _, d in ipairs(ctx.machine.datasets or {}) do
    local path = m.datasets[d.name]
    local args = { "sync", path, "--as", m.name .. "/" .. d.name, "--consistency", ctx.consistency or "crash",
      "--site", ctx.site.name, "--run", ctx.rt.run_id or ctx.job.id }
    for _, a in ipairs(more_args and more_args(d) or {}) do args[#args + 1] = a end
    local block = d.block_size or (ctx.plan.raw.policy or {}).block_size
    if block and d.kind == "image" then args[#args + 1] = "--block-size"; args[#args + 1] = tostring(block) end
    if not core.fs.stat(path) then error(string.format("dataset %s of %s: %s does not exist", d.name, m.name, path), 0) end
    -- under lifeboat protect: only the folders a watcher saw change are listed
    local changed, since = nil, nil
    if d.kind == "tree" then changed, since = require("lifeboat.watch").hint(m.name, d.name, path) end
    if changed then
      for _, a in ipairs({ "--changed", changed, "--since", since }) do args[#args + 1] = a end
    end
    local r = store.run(rt, args)
    out[d.name] = { point = r.point, bytes_added = r.bytes_added, bytes_read = r.bytes_read, seconds = r.seconds,
      walk = r.walk, folders_listed = r.folders_listed }
    if r.walk == "changed" then
      api.log("%s/%s: listed %d folder(s), the ones a watcher saw change since point %s", m.name, d.name,
        r.folders_listed, since)
    end
  end
  return { datasets = out, consistency = ctx.consistency or "crash" }
end

function P.restore(ctx)
  local rt, m = ctx.rt, ctx.machine_view
  local out = {}
  for _, d in ipairs(ctx.machine.datasets or {}) do
    local path = m.datasets[d.name]
    local p = store.point_for(rt, ctx.plan, m.name, d.name)
    -- an existing copy (failback, a second failover) is updated in place:
    -- only what differs is written
    local exists = core.fs.stat(path) ~= nil
    local args = { "restore", m.name .. "/" .. d.name .. "@" .. p.id, path }
    if exists then args[#args + 1] = "--delta" end
    if not exists then record(ctx, { kind = "path", path = path }) end
    assert(core.fs.mkdir(util.dirname(path)))
    local r = store.run(rt, args)
    local age = core.now() - (p.unix or core.now())
    out[d.name] = { point = p.id, time = p.time, consistency = p.consistency, age = age,
      bytes_written = r.bytes_written, seconds = r.seconds, delta = exists or nil }
    api.log("%s/%s: point %s (%s, %s old) -> %s", m.name, d.name, p.id, p.consistency, util.fmt_duration(age), path)
  end
  return { datasets = out }
end

-- A process's identity: when it started (field 22 of /proc/PID/stat, clock
-- ticks since boot) and which boot that was. A pid alone may name another
-- process once the one lifeboat started is gone, or after a reboot.
function P.identity(pid)
  local stat = core.fs.read("/proc/" .. math.tointeger(pid) .. "/stat")
  local boot = core.fs.read("/proc/sys/kernel/random/boot_id")
  -- the fields after the command, which is in parentheses and may hold anything
  local rest = stat and stat:match("^%d+ %(.*%) (.*)$")
  if not rest or not boot then return nil end
  local fields = {}
  for f in rest:gmatch("%S+") do fields[#fields + 1] = f end
  local start = math.tointeger(tonumber(fields[20])) -- field 22: rest begins at field 3
  if not start then return nil end
  return { start = start, boot = (boot:gsub("%s+$", "")) }
end

-- True while the recorded process is alive and still the one lifeboat
-- started (a record without an identity cannot be trusted).
function P.ours_alive(res)
  if not core.alive(res.pid) then return false end
  local now = P.identity(res.pid)
  return now ~= nil and now.start == res.start and now.boot == res.boot
end

-- values of ${{ }} never become shell syntax: see lifeboat/command.lua
local function command_argv(cmd, scope) return (require("lifeboat.command").argv(cmd, scope)) end

-- Stops the process group of a recorded process, only while its pid still
-- names that process.
local function stop_pid(res, grace)
  local pid = res.pid
  if not core.alive(pid) then return "gone" end
  if not P.ours_alive(res) then
    api.log("pid %d is not the process lifeboat started (its start time differs): not signalled", pid)
    return "not ours"
  end
  core.kill(pid, "TERM", true)
  local deadline = core.mono() + grace
  while core.mono() < deadline do
    if not core.alive(pid) then return "stopped" end
    require("lifeboat.sched").sleep(0.1)
  end
  core.kill(pid, "KILL", true)
  return "killed"
end

-- The process groups whose members write to LOG (their stdout): what a
-- start left running when lifeboat was killed after starting it but before
-- its pid reached the journal. Each as a record stop_pid takes.
local function writing_to(log)
  local want = log and core.fs.realpath(log)
  local groups, out = {}, {}
  if not want then return out end
  for _, name in ipairs(core.fs.list("/proc") or {}) do
    if name:match("^%d+$") and core.fs.realpath("/proc/" .. name .. "/fd/1") == want then
      local stat = core.fs.read("/proc/" .. name .. "/stat") or ""
      local pgrp = math.tointeger(tonumber((stat:match("^%d+ %(.*%) %S+ %S+ (%d+)"))))
      if pgrp and pgrp > 1 and not groups[pgrp] then
        groups[pgrp] = true
        local id = P.identity(pgrp)
        if id then out[#out + 1] = { pid = pgrp, start = id.start, boot = id.boot } end
      end
    end
  end
  return out
end

-- Stops every process lifeboat started for the machine at this site: the
-- recorded ones, then any a start announced (kind process, ref, log: it is
-- recorded before spawning) but was killed before recording its pid.
-- Returns {pid, how} of the recorded ones.
local function stop_started(ctx, grace)
  local list = state.resources(ctx.rt.state_dir, ctx.site.name, ctx.machine_view.name, ctx.job.id)
  local done = {}
  for _, res in ipairs(list) do
    if res.kind == "process" and res.pid then
      done[#done + 1] = { pid = res.pid, how = stop_pid(res, grace) }
      record(ctx, { ev = "removed", kind = "process", pid = res.pid })
    end
  end
  for _, res in ipairs(list) do
    if res.kind == "process" and res.ref then
      for _, orphan in ipairs(writing_to(res.log)) do
        api.log("stopping pid %d: started for %s, but lifeboat was killed before it recorded it", orphan.pid,
          ctx.machine_view.name)
        stop_pid(orphan, grace)
      end
      record(ctx, { ev = "removed", kind = "process", ref = res.ref })
    end
  end
  return done
end

function P.start(ctx)
  local m = ctx.machine
  if not m.start then return { started = false, why = "no start command" } end
  local argv = command_argv(m.start, ctx.scope)
  local log = ctx.job.dir .. "/logs/" .. ctx.machine_view.name .. "." .. ctx.site.name .. ".out"
  assert(core.fs.mkdir(ctx.site.root))
  -- the machine runs once: a start that runs again (resume after kill -9,
  -- a retry, a new job after a failed one) first stops what lifeboat
  -- started for it here before
  stop_started(ctx, 15)
  record(ctx, { kind = "process", ref = ctx.step.id .. "#" .. ctx.step.attempt, log = log })
  local pid, e = core.spawn { argv = argv, cwd = ctx.site.root, log = log }
  if not pid then error(e, 0) end
  local id = P.identity(pid) or {}
  record(ctx, { kind = "process", pid = pid, start = id.start, boot = id.boot, log = log })
  require("lifeboat.sched").sleep(0.3)
  if not core.alive(pid) then
    local tail = (core.fs.read(log) or ""):sub(-400):gsub("%s+$", "")
    error(string.format("the start command exited at once%s", tail ~= "" and (": " .. tail) or ""), 0)
  end
  return { pid = pid, log = log }
end

function P.stop(ctx)
  local m = ctx.machine
  local done, failed = {}, nil
  if m.stop then
    local cwd = core.fs.stat(ctx.site.root) and ctx.site.root or nil
    local r = api.exec(command_argv(m.stop, ctx.scope), { check = false, timeout = 120, cwd = cwd })
    done.command = r.code
    if r.code ~= 0 then
      local said = (r.stderr .. r.stdout):sub(1, 300):gsub("%s+$", "")
      failed = string.format("the stop command exited %d%s", r.code, said ~= "" and (": " .. said) or "")
    end
  end
  for _, d in ipairs(stop_started(ctx, 15)) do done[#done + 1] = d end
  -- what lifeboat started is stopped either way; the machine itself may still run
  if failed then error(failed, 0) end
  return { stopped = done }
end

function P.running(ctx)
  for _, res in ipairs(state.resources(ctx.rt.state_dir, ctx.site.name, ctx.machine_view.name, ctx.job.id)) do
    if res.kind == "process" and res.pid and P.ours_alive(res) then return true end
  end
  return false
end

-- Removes what jobs created for the machine at this site, never anything
-- outside the site's root.
function P.remove(ctx)
  local root = ctx.site.root
  local removed = {}
  stop_started(ctx, 5)
  for _, res in ipairs(state.resources(ctx.rt.state_dir, ctx.site.name, ctx.machine_view.name, ctx.job.id)) do
    if res.kind == "path" then
      if res.path:sub(1, #root + 1) ~= root .. "/" then
        error("refusing to remove " .. res.path .. ": outside the site's root " .. root, 0)
      end
      local ok, e = core.fs.remove(res.path, true)
      if not ok then error(e, 0) end
      record(ctx, { ev = "removed", kind = "path", path = res.path })
      removed[#removed + 1] = res.path
    end
  end
  for _, dir in ipairs({ root .. "/" .. ctx.machine_view.name, root }) do
    local left = core.fs.list(dir)
    if left and #left == 0 then core.fs.remove(dir) end
  end
  return { removed = removed }
end

return P
