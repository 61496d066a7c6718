-- The lifeboat API without servers: exec, json, fs, time, wait_until, sandbox.
local T = require("tap")
local dir = arg[1] or error("usage: test_api.lua WORKDIR")

-- exec
local r = exec({ "printf", "%s|%s", "a b", "c" })
T.eq(r.stdout, "a b|c", "exec argv passes words untouched")
r = exec("echo out; echo err >&2; exit 7", { check = false })
T.eq(r.code, 7, "exec returns the exit code with check = false")
T.eq(r.stdout, "out\n", "exec captures stdout")
T.eq(r.stderr, "err\n", "exec captures stderr")
T.raises(function() exec("exit 3") end, "exited 3", "exec raises on a non-zero exit by default")
T.raises(function() exec({ "/nonexistent/tool" }) end, "cannot run", "exec of a missing program raises")
r = exec("echo $LB_TEST_VAR; pwd", { env = { LB_TEST_VAR = "v1" }, cwd = dir })
T.eq(r.stdout, "v1\n" .. dir .. "\n", "exec env and cwd")
r = exec({ "cat" }, { stdin = "fed through stdin" })
T.eq(r.stdout, "fed through stdin", "exec stdin")
r = exec({ "head", "-c", "100000", "/dev/zero" }, { max_output = 1000 })
T.ok(#r.stdout == 1000 and r.stdout_dropped == 99000, "exec output capped at max_output, the rest counted",
  #r.stdout .. " " .. tostring(r.stdout_dropped))
local t0 = now()
T.raises(function() exec("sleep 30", { timeout = "300ms" }) end, "timed out", "exec timeout raises")
T.ok(now() - t0 < 5, "exec timeout stops the process quickly", now() - t0)
-- a timeout stops the whole process group, children included
pcall(exec, "sleep 31 & sleep 32; wait", { timeout = "200ms" })
local left = exec("pgrep -x -f 'sleep 3[12]' || true").stdout
T.eq(left, "", "exec timeout kills the children too")

-- json
local v = json.decode('{"a":[1,2,{"b":null}],"c":"é","d":1.5,"e":true}')
T.ok(v.a[2] == 2 and v.a[3].b == json.null and v.c == "é" and v.d == 1.5 and v.e == true, "json decode")
T.eq(json.encode({ b = 1, a = { 1, 2 } }), '{"a":[1,2],"b":1}', "json encode sorts keys")
T.eq(json.encode(json.array()), "[]", "json empty array")
local bad, err = json.decode("{oops")
T.ok(bad == nil and err:find("invalid JSON"), "json decode of bad input returns nil, error", err)
T.ok(json.decode("[1] x") == nil, "json decode refuses trailing text")

-- fs
local f = dir .. "/a.txt"
fs.write(f, "one")
exec({ "chmod", "640", f })
fs.write(f, "two")
T.eq(fs.read(f), "two", "fs write replaces the file")
T.eq(exec({ "stat", "-c", "%a", f }).stdout, "640\n", "fs write keeps the mode of the file it replaces")
T.eq(#fs.glob(dir .. "/a.txt.tmp*"), 0, "fs write leaves no temporary file")
T.ok(fs.exists(f) and not fs.exists(dir .. "/none"), "fs exists")
fs.mkdir(dir .. "/x/y/z")
fs.write(dir .. "/x/y/z/f", "")
T.eq(#fs.glob(dir .. "/x/*/z/f"), 1, "fs mkdir -p and glob")
fs.remove(dir .. "/x", true)
T.ok(not fs.exists(dir .. "/x"), "fs remove recursive")
T.raises(function() fs.read(dir .. "/none") end, "No such file", "fs read of a missing file raises")
T.raises(function() fs.write("/proc/version", "x") end, "/proc/version", "fs write failure names the file")

-- time
local t1 = now()
sleep(0.2)
T.ok(now() - t1 >= 0.19, "sleep")
local calls = 0
T.ok(wait_until(function() calls = calls + 1; return calls >= 3 end, { within = "5s", every = "10ms" }),
  "wait_until returns once true")
T.raises(function() wait_until(function() return false end, { within = "200ms", every = "50ms" }) end,
  "not met within", "wait_until raises after within")

-- sandbox
T.ok(io == nil, "no io")
T.ok(os.execute == nil and os.exit == nil and os.remove == nil, "no os.execute, os.exit, os.remove")
T.ok(debug == nil and package == nil, "no debug, no package")
T.ok(dofile == nil and loadfile == nil, "no dofile, loadfile")
T.ok(load(string.dump(function() end)) == nil, "no binary chunks")
T.ok(core == nil, "no core")
T.raises(function() require("io") end, "neither in the plan's folder nor in stdlib", "require of a C library refused")
T.raises(function() require("../../etc/passwd") end, "bad module name", "require outside the folder refused")
local env_fn = load("return x", "chunk", "t")
T.ok(env_fn and env_fn() == nil, "load of text works in the sandbox")
T.done()
