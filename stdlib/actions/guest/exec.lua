-- guest.exec: runs a command inside a running VM through QEMU's guest
-- agent (the machine's vm.guest_agent), waits for it and fails unless it
-- exits 0: post-migration steps inside the recovered guest.
--   uses: guest.exec
--   with: { machine: web, command: "sync; cat /etc/web.conf", timeout: 60 }
-- `machine` defaults to the step's own; the command runs with /bin/sh -c.
-- Its output goes to the step log (secrets redacted) and the result.
local api = require("lifeboat.api")
local secrets = require("lifeboat.secrets")
local util = require("lifeboat.util")

local A = {}

function A.check(with)
  if with.command == nil then return "'command' is required" end
  if with.timeout ~= nil and type(with.timeout) ~= "number" and type(with.timeout) ~= "string" then
    return "'timeout' must be seconds or a duration"
  end
end

local B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
local function unbase64(s)
  local val = {}
  for i = 1, 64 do val[B64:byte(i)] = i - 1 end
  local out, bits, n = {}, 0, 0
  for c in s:gmatch("[%w+/]") do
    bits = (bits << 6) | val[c:byte()]
    n = n + 6
    if n >= 8 then
      n = n - 8
      out[#out + 1] = string.char((bits >> n) & 255)
    end
  end
  return table.concat(out)
end

function A.run(with, ctx)
  local problem = A.check(with)
  if problem then error(problem, 0) end
  local site = ctx.scope.site
  local machine = with.machine or (ctx.scope.machine and ctx.scope.machine.name)
  if not machine then error("'machine' is required outside a machine's steps", 0) end
  local agent = require("providers.qemu").agent
  local timeout = type(with.timeout) == "string" and util.parse_duration(with.timeout) or with.timeout or 60
  local r, e = agent(site, machine, { { execute = "guest-exec", arguments = {
    path = "/bin/sh", arg = { "-c", tostring(with.command) }, ["capture-output"] = true } } }, 10)
  if not r then error(e, 0) end
  local pid = r[1].pid
  local st
  api.wait_until(function()
    local s, se = agent(site, machine, { { execute = "guest-exec-status", arguments = { pid = pid } } }, 10)
    if not s then error(se, 0) end
    st = s[1]
    return st.exited
  end, { within = timeout, every = 0.2 })
  local out = secrets.redact(unbase64(st["out-data"] or ""))
  local err = secrets.redact(unbase64(st["err-data"] or ""))
  local code = st.exitcode or (st.signal and 128 + st.signal) or -1
  if api.step_log and require("lifeboat.sched").current then
    api.step_log(require("lifeboat.sched").current, string.format("$ (in %s) %s\n%s%s[exit %d]\n", machine,
      tostring(with.command), out, err ~= "" and ("[stderr]\n" .. err) or "", code))
  end
  if code ~= 0 then
    local said = (err ~= "" and err or out):sub(-300):gsub("%s+$", "")
    error(string.format("'%s' in %s exited %d%s", tostring(with.command), machine, code,
      said ~= "" and (": " .. said) or ""), 0)
  end
  api.log("%s: '%s' exited 0", machine, tostring(with.command))
  return { machine = machine, exit = code, stdout = out:sub(1, 2000) }
end

return A
