#!/usr/bin/env bash
# The C functions under stdlib ("core"), called directly: a stand-in
# stdlib (LIFEBOAT_STDLIB) whose boot module is this test. Processes get a
# clean environment, core.alive never reaps what it did not spawn, http
# speaks only http and https, and sizes are checked.
. "$(dirname "$0")/lib.sh"

mkdir -p corelib/lifeboat
cat > corelib/lifeboat/boot.lua <<'LUA'
local core = ...
local n, failed = 0, 0
local function ok(c, desc, detail)
  n = n + 1
  if not c then failed = failed + 1 end
  core.write(1, (c and "ok " or "not ok ") .. n .. " - " .. desc .. "\n")
  if not c and detail then core.write(1, "#   " .. tostring(detail) .. "\n") end
end
-- waits for ticket's result up to secs; nil when it did not come
local function await(ticket, secs)
  local deadline = core.mono() + secs
  while core.mono() < deadline do
    for _, d in ipairs((core.poll(0.1))) do if d.ticket == ticket then return d.result end end
  end
end
local function run(spec, secs)
  local okc, t = pcall(core.exec, spec)
  if not okc then return nil, t end
  return await(t, secs or 10)
end

-- the environment of children
local r = run { argv = { "env" } }
local env = r and r.stdout or ""
ok(env:find("PATH=", 1, true) and env:find("HOME=", 1, true), "exec: PATH and HOME reach the child", env)
for _, name in ipairs({ "LIFEBOAT_SECRET_TOKEN", "LIFEBOAT_PASSPHRASE", "LIFEBOAT_KEY_FILE", "LIFEBOAT_SECRETS_FILE",
  "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AZURE_STORAGE_KEY", "LIFEBOAT_SSH_KEY",
  "UNRELATED_VAR" }) do
  ok(not env:find(name .. "=", 1, true), "exec: " .. name .. " does not reach the child", env)
end
r = run { argv = { "env" }, env = { EXTRA = "x y", LIFEBOAT_PASSPHRASE = true, UNRELATED_VAR = true, HOME = false,
  N = 5 } }
env = r and r.stdout or ""
ok(env:find("EXTRA=x y\n", 1, true) and env:find("N=5\n", 1, true), "exec: env entries are added", env)
ok(env:find("LIFEBOAT_PASSPHRASE=pass-phrase\n", 1, true) and env:find("UNRELATED_VAR=unrelated\n", 1, true),
  "exec: env NAME = true passes this process's value on", env)
ok(not env:find("HOME=", 1, true), "exec: env NAME = false leaves a name out", env)
ok(not pcall(core.exec, { argv = { "env" }, env = { ["A=B"] = "x" } }), "exec: a name with '=' is refused")
ok(not pcall(core.exec, { argv = { "env" }, env = { A = {} } }), "exec: a table value is refused")
ok(not pcall(core.exec, { argv = { "echo", "a\0b" } }), "exec: an argument with a NUL byte is refused")

local log = arg_dir .. "/spawn.log"
local pid = core.spawn { argv = { "sh", "-c", "env; echo done" }, log = log, env = { SPAWN_EXTRA = "1" } }
local deadline = core.mono() + 5
local text = ""
while core.mono() < deadline do
  text = core.fs.read(log) or ""
  if text:find("done", 1, true) then break end
  core.poll(0.05)
end
ok(text:find("SPAWN_EXTRA=1", 1, true) and text:find("PATH=", 1, true), "spawn: the clean base and env entries", text)
ok(not text:find("LIFEBOAT_SECRET_TOKEN", 1, true) and not text:find("AWS_SECRET_ACCESS_KEY", 1, true),
  "spawn: no secret reaches a background process", text)
while core.alive(pid) and core.mono() < deadline do core.poll(0.05) end
ok(not core.alive(pid), "alive: a spawned process that exited is reaped and gone")

-- core.alive(0) and (-1) must not wait for a child a task is waiting for
local t = core.exec { argv = { "sh", "-c", "exec >&- 2>&-; sleep 0.3; exit 7" } }
local until_t = core.mono() + 1
local said = false
while core.mono() < until_t do said = said or core.alive(-1) or core.alive(0) end
ok(not said, "alive(-1) and alive(0) are false")
r = await(t, 5)
ok(r and r.code == 7, "an exec's exit code survives alive(-1) and alive(0) meanwhile",
  r and (r.error or r.code) or "no result within 5 s")

-- sizes and URL schemes
local okx, e = pcall(core.exec, { argv = { "true" }, max_output = -1 })
ok(not okx and tostring(e):find("max_output", 1, true), "exec: a negative max_output is refused", e)
okx, e = pcall(core.http, { url = "http://127.0.0.1:1/", max_body = -1 })
ok(not okx and tostring(e):find("max_body", 1, true), "http: a negative max_body is refused", e)
for _, url in ipairs({ "file:///etc/passwd", "FILE:///etc/hostname", "ftp://127.0.0.1/", "dict://127.0.0.1:1/",
  "gopher://127.0.0.1:1/" }) do
  okx, e = pcall(core.http, { url = url })
  local res = okx and await(e, 5)
  ok(not okx and tostring(e):find("only http:// and https://", 1, true), "http: " .. url .. " is refused",
    okx and ("answered: " .. tostring(res and (res.error or res.body:sub(1, 40))))  or e)
end
return failed == 0 and 0 or 1
LUA
# the boot module finds its folder through a global the real one does not use
sed -i "1a local arg_dir = '$WORK'" corelib/lifeboat/boot.lua

out=$(LIFEBOAT_STDLIB=$WORK/corelib LIFEBOAT_SECRET_TOKEN=tok LIFEBOAT_PASSPHRASE=pass-phrase LIFEBOAT_KEY_FILE=/k \
	LIFEBOAT_SECRETS_FILE=/s AWS_ACCESS_KEY_ID=ak AWS_SECRET_ACCESS_KEY=sk AWS_SESSION_TOKEN=st AZURE_STORAGE_KEY=az \
	LIFEBOAT_SSH_KEY=ssh UNRELATED_VAR=unrelated lb validate x 2>&1)
rc=$?
printf '%s\n' "$out" | grep -E '^(not )?ok |^#'
[ "$rc" = 0 ] || fail "the core checks ran to the end" "exit $rc" "$out"
