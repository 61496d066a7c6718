-- providers/qemu.lua: each machine is a QEMU virtual machine whose disks
-- are the machine's image datasets, kept under the site's root folder
-- (ROOT/MACHINE/PATH, as with the local provider, which restores them too;
-- retention and forgetting are the store's). A site may have a network of its own:
-- a network namespace holding a bridge with the subnet's first address,
-- each VM on a tap of that bridge. Nothing else reaches it; lifeboat's
-- steps and health checks at the site run inside it. An `isolated`
-- network (a drill's bubble) is made by the job and removed by cleanup.
--
-- start boots the VM (QMP on ROOT/MACHINE/.qmp, the serial console into
-- the job's logs); stop asks the guest to power off (ACPI
-- through QMP), then quits QEMU after vm.shutdown_timeout; sync of a
-- running VM pauses it (QMP stop/cont) around the sync and reports for
-- how long. Everything is written to the journal before it is made.
local api = require("lifeboat.api")
local base = require("providers.local")
local expr = require("lifeboat.expr")
local json = require("lifeboat.json")
local sched = require("lifeboat.sched")
local state = require("lifeboat.state")
local store = require("lifeboat.store")
local util = require("lifeboat.util")

local P = { name = "qemu" }

function P.keys(t)
  return {
    site = {
      network = t.obj({ name = t.str { required = true, name = true }, subnet = t.str { required = true },
        isolated = t.bool }),
      addresses = t.dict(t.str()),
      accel = t.enum("auto", "kvm", "tcg"),
    },
    machine = {
      vm = t.obj({ memory = t.size, cpus = t.int { min = 1, max = 64 }, kernel = t.str(), initrd = t.str(),
        append = t.str(), nics = t.int { min = 0, max = 8 }, shutdown_timeout = t.dur, guest_agent = t.bool }),
    },
  }
end

P.dataset_path = base.dataset_path
P.restore = base.restore

local QEMU = "qemu-system-x86_64"

-- "10.1.2.0/24" -> {a, b, c, d}, bits; nil when it is not one
local function parse_cidr(text)
  local a, b, c, d, bits = tostring(text):match("^(%d+)%.(%d+)%.(%d+)%.(%d+)/(%d+)$")
  local o = { tonumber(a), tonumber(b), tonumber(c), tonumber(d) }
  bits = tonumber(bits)
  if not bits or bits < 8 or bits > 30 then return nil end
  for _, v in ipairs(o) do if v > 255 then return nil end end
  return o, bits
end

local function ipv4(text)
  local a, b, c, d = tostring(text):match("^(%d+)%.(%d+)%.(%d+)%.(%d+)$")
  local o = { tonumber(a), tonumber(b), tonumber(c), tonumber(d) }
  if not d then return nil end
  for _, v in ipairs(o) do if v > 255 then return nil end end
  return ((o[1] * 256 + o[2]) * 256 + o[3]) * 256 + o[4]
end

local function as_int(o) return ((o[1] * 256 + o[2]) * 256 + o[3]) * 256 + o[4] end
local function dotted(n) return string.format("%d.%d.%d.%d", n >> 24 & 255, n >> 16 & 255, n >> 8 & 255, n & 255) end

-- the subnet's network number, mask and gateway (its first address)
local function subnet_of(text)
  local o, bits = parse_cidr(text)
  if not o then return nil end
  local mask = (0xffffffff << (32 - bits)) & 0xffffffff
  local net = as_int(o) & mask
  return { net = net, mask = mask, bits = bits, gateway = dotted(net + 1) }
end

function P.check_site(name, s, plan, at, ctx)
  local net = s.network
  local sub
  if net and net.subnet then
    sub = subnet_of(net.subnet)
    if not sub then at(ctx.pos[net], "site '%s': network.subnet '%s' is not an IPv4 subnet like 10.231.1.0/24 (/8 to /30)",
      name, tostring(net.subnet)) end
  end
  if net and net.name and #net.name > 15 then
    at(ctx.pos[net], "site '%s': network.name '%s' is longer than 15 characters", name, net.name)
  end
  for mname, addr in pairs(s.addresses or {}) do
    local here = ctx.keypos[addr] or ctx.pos[s.addresses]
    local n = ipv4(addr)
    if not plan.raw.machines[mname] then
      at(here, "site '%s': addresses: no machine named '%s'", name, mname)
    elseif type(addr) ~= "string" or not n then
      at(here, "site '%s': address of %s '%s' is not an IPv4 address", name, mname, tostring(addr))
    elseif sub and (n & sub.mask) ~= sub.net then
      at(here, "site '%s': address %s of %s is outside the subnet %s", name, addr, mname, net.subnet)
    elseif sub and (n == sub.net + 1 or n == (sub.net | (~sub.mask & 0xffffffff))) then
      at(here, "site '%s': address %s of %s is the subnet's gateway or broadcast address", name, addr, mname)
    end
  end
  if s.addresses and not net then at(ctx.pos[s.addresses], "site '%s': addresses need a network", name) end
  -- an isolated network shares production's addresses, never its namespace
  for other, o in pairs(plan.raw.sites or {}) do
    if other < name and net and net.name and o.network and o.network.name == net.name then
      at(ctx.pos[net], "site '%s': network '%s' is also site '%s''s: each site needs a network of its own",
        name, net.name, other)
    end
  end
end

function P.describe(what, site, mname, plan)
  local m = plan.raw.machines[mname]
  local disks = {}
  for _, d in ipairs(m.datasets or {}) do disks[#disks + 1] = d.name end
  local where = site.name .. (site.netns and (" (network " .. site.netns .. ")") or "")
  if what == "start" then return string.format("boot VM %s at %s from %s", mname, where, table.concat(disks, ", ")) end
  if what == "stop" then return string.format("shut VM %s down at %s (ACPI, then quit)", mname, site.name) end
  if what == "sync" then return string.format("sync the disks of VM %s at %s (paused while it runs)", mname, site.name) end
  if what == "remove" then
    return string.format("remove VM %s's disks at %s%s", mname, site.name,
      site.network and site.network.isolated and (" and the isolated network " .. site.netns) or "")
  end
  return base.describe(what, site, mname, plan)
end

local have = base.on_path


function P.preflight(site, plan, op)
  local problems = {}
  if not site.root then problems[#problems + 1] = "site '" .. site.name .. "' has no root folder" end
  if not have(QEMU) then problems[#problems + 1] = QEMU .. " is not installed (Debian package qemu-system-x86)" end
  if site.netns and not have("ip") then problems[#problems + 1] = "ip is not installed (Debian package iproute2)" end
  for _, name in ipairs(plan.machine_order) do
    local m = plan.raw.machines[name]
    local images = 0
    for _, d in ipairs(m.datasets or {}) do
      if d.kind ~= "image" then
        problems[#problems + 1] = string.format("machine '%s': dataset %s is a %s; a VM's disks are image datasets",
          name, d.name, d.kind or "tree")
      else images = images + 1 end
    end
    if images == 0 then problems[#problems + 1] = string.format("machine '%s' has no disk (an image dataset)", name) end
    local vm = m.vm or {}
    for _, key in ipairs({ "kernel", "initrd" }) do
      local f = vm[key] and util.join(plan.dir, expr.text(vm[key]))
      if f and not f:find("${{", 1, true) then
        local st = core.fs.stat(f)
        if not st then problems[#problems + 1] = string.format("machine '%s': vm.%s %s does not exist", name, key, f)
        elseif st.type ~= "file" then problems[#problems + 1] = string.format("machine '%s': vm.%s %s is not a file", name, key, f) end
      end
    end
    if site.network and not (plan.raw.sites[site.name].addresses or {})[name] then
      problems[#problems + 1] = string.format("site '%s' has no address for machine '%s'", site.name, name)
    end
    if op == "replicate" and site.root then
      for _, d in ipairs(m.datasets or {}) do
        local path = P.dataset_path(site, { name = name }, d)
        local st = core.fs.stat(path)
        if d.kind == "image" and st and (st.type ~= "file" or st.size == 0 or st.size % 512 ~= 0) then
          problems[#problems + 1] = string.format("machine '%s': %s is not a disk image (a file of whole 512-byte sectors)",
            name, path)
        end
      end
    end
  end
  return problems
end

local record = base.record

local function ip(args, check)
  local argv = { "ip" }
  for _, a in ipairs(args) do argv[#argv + 1] = a end
  return api.exec(argv, { check = check ~= false, timeout = 30, netns = false })
end

local busy = {} -- netns name -> true while a step makes it

-- Makes the site's network when it does not exist yet. An isolated one is
-- recorded (so cleanup removes it, also after kill -9); a site's standing
-- network is not: it outlives jobs.
local function ensure_network(ctx)
  local net = ctx.site.network
  if not net then return nil end
  while busy[net.name] do sched.sleep(0.05) end
  if core.fs.stat("/run/netns/" .. net.name) then
    if net.isolated then
      -- only one this site's jobs made (and cleanup has not removed yet)
      local ours = false
      for _, res in ipairs(state.resources(ctx.rt.state_dir, ctx.site.name, nil, ctx.job.id)) do
        if res.kind == "network" and res.ref == net.name then ours = true end
      end
      if not ours then
        error(string.format("network namespace %s exists but was not made for this site's drills: an isolated " ..
          "network is never shared (remove it with 'ip netns del %s' if it is left over)", net.name, net.name), 0)
      end
    end
    return net
  end
  busy[net.name] = true
  local ok, e = pcall(function()
    local sub = subnet_of(net.subnet)
    if net.isolated then record(ctx, { kind = "network", ref = net.name }) end
    ip({ "netns", "add", net.name })
    ip({ "-n", net.name, "link", "set", "lo", "up" })
    ip({ "-n", net.name, "link", "add", "br0", "type", "bridge" })
    ip({ "-n", net.name, "addr", "add", sub.gateway .. "/" .. sub.bits, "dev", "br0" })
    ip({ "-n", net.name, "link", "set", "br0", "up" })
    api.log("network %s: %s, gateway %s%s", net.name, net.subnet, sub.gateway, net.isolated and " (isolated)" or "")
  end)
  busy[net.name] = nil
  if not ok then
    -- half made is not made: the next start makes it again
    ip({ "netns", "del", net.name }, false)
    error(e, 0)
  end
  return net
end

local function machine_index(ctx)
  for i, n in ipairs(ctx.plan.machine_order) do if n == ctx.machine_view.name then return i end end
  return 0
end

-- the tap of the VM's NIC number nic in the site's network
local function tap_name(ctx, nic) return string.format("lbvm%d.%d", machine_index(ctx), nic) end

-- The QMP socket of a machine at a site: ROOT/MACHINE/.qmp. A VM started
-- by other means joins the site by listening there
-- (-qmp unix:ROOT/MACHINE/.qmp,server=on,wait=off): sync pauses it, stop
-- shuts it down.
local function qmp_path(ctx)
  local path = ctx.site.root .. "/" .. ctx.machine_view.name .. "/.qmp"
  if #path > 107 then error("the QMP socket path " .. path .. " is longer than 107 bytes: use a shorter site root", 0) end
  return path
end

-- Sends QMP commands ({execute, arguments}); returns the answers decoded.
local function qmp(sock, cmds, timeout)
  local lines = {}
  for i, c in ipairs(cmds) do lines[i] = json.encode(c) end
  local answers, events = core.qmp(sock, lines, timeout or 10)
  if not answers then return nil, events end
  local out = {}
  for i, a in ipairs(answers) do
    local v = json.decode(a)
    if v.error then return nil, string.format("%s: %s", cmds[i].execute, v.error.desc or a) end
    out[i] = v["return"]
  end
  return out
end

-- The guest agent's socket (vm.guest_agent: a virtio port named
-- org.qemu.guest_agent.0, on which the guest runs qemu-ga).
function P.agent_path(site, machine_name) return site.root .. "/" .. machine_name .. "/.qga" end

-- Calls the guest agent of a machine at a site; the answers decoded.
function P.agent(site, machine_name, cmds, timeout)
  local lines = {}
  for i, c in ipairs(cmds) do lines[i] = json.encode(c) end
  local sock = P.agent_path(site, machine_name)
  if not core.fs.stat(sock) then return nil, "VM " .. machine_name .. " has no guest agent socket (" .. sock .. ")" end
  local answers, e = core.qmp(sock, lines, timeout or 10, true)
  if not answers then return nil, "guest agent of " .. machine_name .. ": " .. e end
  local out = {}
  for i, a in ipairs(answers) do
    local v = json.decode(a)
    if v.error then return nil, string.format("guest agent of %s: %s: %s", machine_name, cmds[i].execute, v.error.desc or a) end
    out[i] = v["return"]
  end
  return out
end

local function vms(ctx)
  local out = {}
  for _, res in ipairs(state.resources(ctx.rt.state_dir, ctx.site.name, ctx.machine_view.name, ctx.job.id)) do
    if res.kind == "vm" then out[#out + 1] = res end
  end
  return out
end

local function alive(res) return res.pid and base.ours_alive(res) end

-- Stops one VM: ACPI power button, then QMP quit, then SIGKILL.
local function stop_vm(res, grace)
  local how = "gone"
  if alive(res) or (not res.pid and res.qmp and core.fs.stat(res.qmp)) then
    how = "powered off"
    local _, e = qmp(res.qmp, { { execute = "system_powerdown" } }, 5)
    local deadline = core.mono() + grace
    while not e and core.mono() < deadline do
      if res.pid and not alive(res) then break end
      if not res.pid and not core.fs.stat(res.qmp) then break end
      sched.sleep(0.1)
    end
    if (res.pid and alive(res)) or (not res.pid and res.qmp and core.fs.stat(res.qmp)) then
      how = "quit after " .. util.fmt_duration(grace)
      qmp(res.qmp, { { execute = "quit" } }, 5)
      local until_ = core.mono() + 5
      while res.pid and alive(res) and core.mono() < until_ do sched.sleep(0.1) end
      if res.pid and alive(res) then core.kill(res.pid, "KILL", true); how = "killed" end
    end
  end
  if res.qmp then core.fs.remove(res.qmp) end
  return how
end

local function remove_taps(ctx)
  for _, res in ipairs(state.resources(ctx.rt.state_dir, ctx.site.name, ctx.machine_view.name, ctx.job.id)) do
    if res.kind == "tap" then
      if core.fs.stat("/run/netns/" .. res.netns) then ip({ "-n", res.netns, "link", "del", res.tap }, false) end
      record(ctx, { ev = "removed", kind = "tap", ref = res.ref })
    end
  end
end

-- The VM answering on the machine's QMP socket (one lifeboat started, or
-- one started before, by other means: the primary's VMs run for days).
local function running_qmp(ctx)
  local sock = qmp_path(ctx)
  if not core.fs.stat(sock) then return nil end
  local r = qmp(sock, { { execute = "query-status" } }, 3)
  if r and (r[1].status == "running" or r[1].status == "paused") then return sock, r[1].status end
  return nil
end

local resume_left

local function stop_all(ctx, grace)
  local done = {}
  local sock, status = nil, nil
  if ctx.site.root then sock, status = running_qmp(ctx) end
  -- a paused guest cannot hear the power button
  if sock then pcall(resume_left, ctx, sock, status) end
  if sock then
    local sock = qmp_path(ctx)
    local mine = false
    for _, res in ipairs(vms(ctx)) do if res.qmp == sock and alive(res) then mine = true end end
    if not mine then done[#done + 1] = { qmp = sock, how = stop_vm({ qmp = sock }, grace) } end
  end
  for _, res in ipairs(vms(ctx)) do
    done[#done + 1] = { pid = res.pid, how = stop_vm(res, grace) }
    record(ctx, { ev = "removed", kind = "vm", pid = res.pid, ref = res.ref })
  end
  remove_taps(ctx)
  return done
end

-- KVM where /dev/kvm exists (accel: auto), else TCG; a site may choose
local function accel(site)
  local want = site.raw.accel or "auto"
  if want == "auto" then want = core.fs.stat("/dev/kvm") and "kvm" or "tcg" end
  return want
end

local function console_tail(path, lines)
  local text = core.fs.read(path) or ""
  local out = {}
  for line in text:gmatch("[^\r\n]+") do
    out[#out + 1] = line
    if #out > lines then table.remove(out, 1) end
  end
  return table.concat(out, "\n")
end

function P.start(ctx)
  local m, mv, site = ctx.machine, ctx.machine_view, ctx.site
  local vm = m.vm or {}
  local scope = ctx.scope
  stop_all(ctx, 15) -- a start that runs again first stops what it started before
  local net = ensure_network(ctx)
  local log = ctx.job.dir .. "/logs/" .. mv.name .. "." .. site.name .. ".console"
  local sock = qmp_path(ctx)
  assert(core.fs.mkdir(util.dirname(sock)))
  core.fs.remove(sock)
  local argv = {}
  if net then
    for _, a in ipairs({ "ip", "netns", "exec", net.name }) do argv[#argv + 1] = a end
  end
  local memory = math.max(64, (vm.memory or 256 * 1048576) // 1048576)
  for _, a in ipairs({ QEMU, "-name", "lifeboat:" .. ctx.plan.name .. ":" .. site.name .. ":" .. mv.name,
    "-accel", accel(site), "-m", tostring(memory), "-smp", tostring(vm.cpus or 1),
    "-display", "none", "-monitor", "none", "-no-reboot", "-serial", "file:" .. log:gsub(",", ",,"),
    "-qmp", "unix:" .. sock:gsub(",", ",,") .. ",server=on,wait=off" }) do argv[#argv + 1] = a end
  if vm.kernel then
    argv[#argv + 1] = "-kernel"; argv[#argv + 1] = util.join(ctx.plan.dir, expr.render(vm.kernel, scope))
    if vm.initrd then argv[#argv + 1] = "-initrd"; argv[#argv + 1] = util.join(ctx.plan.dir, expr.render(vm.initrd, scope)) end
    argv[#argv + 1] = "-append"; argv[#argv + 1] = tostring(expr.render(vm.append or "console=ttyS0", scope))
  end
  for _, d in ipairs(m.datasets or {}) do
    argv[#argv + 1] = "-drive"
    argv[#argv + 1] = "file=" .. mv.datasets[d.name]:gsub(",", ",,") .. ",if=virtio,format=raw,discard=unmap"
  end
  if vm.guest_agent then
    local qga = P.agent_path(site, mv.name)
    core.fs.remove(qga)
    for _, a in ipairs({ "-chardev", "socket,id=qga0,path=" .. qga:gsub(",", ",,") .. ",server=on,wait=off",
      "-device", "virtio-serial-pci", "-device", "virtserialport,chardev=qga0,name=org.qemu.guest_agent.0" }) do
      argv[#argv + 1] = a
    end
  end
  local nics = net and (vm.nics or 1) or 0
  if nics == 0 then argv[#argv + 1] = "-nic"; argv[#argv + 1] = "none" end
  for i = 0, nics - 1 do
    local tap = tap_name(ctx, i)
    record(ctx, { kind = "tap", ref = net.name .. "/" .. tap, netns = net.name, tap = tap })
    ip({ "-n", net.name, "link", "del", tap }, false)
    ip({ "-n", net.name, "tuntap", "add", "dev", tap, "mode", "tap" })
    ip({ "-n", net.name, "link", "set", tap, "master", "br0", "up" })
    argv[#argv + 1] = "-netdev"
    argv[#argv + 1] = string.format("tap,id=n%d,ifname=%s,script=no,downscript=no", i, tap)
    argv[#argv + 1] = "-device"
    argv[#argv + 1] = string.format("virtio-net-pci,netdev=n%d,mac=52:54:00:%02x:%02x:%02x", i,
      machine_index(ctx) & 255, i, (#site.name * 7) & 255)
  end
  local ref = ctx.step.id .. "#" .. ctx.step.attempt
  record(ctx, { kind = "vm", ref = ref, qmp = sock, console = log })
  local pid, e = core.spawn { argv = argv, log = ctx.job.dir .. "/logs/" .. mv.name .. "." .. site.name .. ".qemu" }
  if not pid then error(e, 0) end
  local id = base.identity(pid) or {}
  record(ctx, { ev = "removed", kind = "vm", ref = ref })
  record(ctx, { kind = "vm", pid = pid, start = id.start, boot = id.boot, qmp = sock, console = log })
  -- QEMU is up once its QMP socket answers
  local deadline = core.mono() + 30
  local status
  while core.mono() < deadline do
    if not core.alive(pid) then break end
    local r = core.fs.stat(sock) and qmp(sock, { { execute = "query-status" } }, 2)
    if r then status = r[1].status break end
    sched.sleep(0.1)
  end
  if status ~= "running" then
    local said = (core.fs.read(ctx.job.dir .. "/logs/" .. mv.name .. "." .. site.name .. ".qemu") or ""):sub(-400)
    error(string.format("QEMU did not start VM %s%s", mv.name, said ~= "" and (": " .. said:gsub("%s+$", "")) or ""), 0)
  end
  api.log("VM %s: pid %d, %s, %d MiB, console %s", mv.name, pid, accel(site), memory, log)
  return { pid = pid, console = log, qmp = sock, network = net and net.name or nil }
end

function P.diagnose(ctx)
  local list = vms(ctx)
  local res = list[#list]
  if not res or not res.console then return nil end
  local tail = console_tail(res.console, 12)
  local how = alive(res) and "still running" or "no longer running"
  return string.format("VM %s is %s; the last lines of its console (%s):\n%s", ctx.machine_view.name, how,
    res.console, tail ~= "" and tail or "(nothing)")
end

function P.stop(ctx)
  local grace = (ctx.machine.vm or {}).shutdown_timeout or 30
  return { stopped = stop_all(ctx, grace) }
end

function P.running(ctx)
  for _, res in ipairs(vms(ctx)) do if alive(res) then return true end end
  return running_qmp(ctx) ~= nil
end

-- Changed-block tracking. While a VM runs, QEMU keeps a dirty bitmap per
-- disk (block-dirty-bitmap-add) of what the guest wrote since the disk's
-- last point; ROOT/MACHINE/.cbt-DATASET.json names the bitmap and that
-- point. A sync of a paused VM then freezes the bitmap and starts the next
-- one (one transaction), reads the frozen bitmap's ranges through an NBD
-- export (qemu-img map), and syncs only those (sync --changed --since).
-- The bitmap lives in QEMU's memory: a restarted VM has none, and a point
-- that is no longer the newest cannot be built on; then the whole disk is
-- read and compared, and the sync says why.

local function cbt_file(ctx, d) return ctx.site.root .. "/" .. ctx.machine_view.name .. "/.cbt-" .. d.name .. ".json" end


-- disk path -> {node, bitmaps = {name = true}} from query-block
local function disk_nodes(sock)
  local r, e = qmp(sock, { { execute = "query-block" } })
  if not r then error("query-block: " .. e, 0) end
  local out = {}
  for _, dev in ipairs(r[1]) do
    local ins = dev.inserted
    if ins and ins.file then
      local names = {}
      -- name -> recording (a disabled bitmap no longer counts writes)
      for _, b in ipairs(ins["dirty-bitmaps"] or dev["dirty-bitmaps"] or {}) do names[b.name] = b.recording ~= false end
      out[core.fs.realpath(ins.file) or ins.file] = { node = ins["node-name"], bitmaps = names }
    end
  end
  return out
end

-- dataset name -> the id of its newest point (one listing for the machine;
-- points come oldest first)
local function newest_points(ctx)
  local out = {}
  for _, p in ipairs(store.points(ctx.rt, ctx.machine_view.name)) do out[p.dataset] = p.id end
  return out
end

-- The byte ranges the frozen bitmap marks, written to FILE ("OFFSET LENGTH"
-- lines); the number of bytes they cover.
local function dirty_ranges(ctx, sock, node, bitmap, file)
  local nbd = ctx.site.root .. "/" .. ctx.machine_view.name .. "/.nbd"
  core.fs.remove(nbd)
  local _, e = qmp(sock, {
    { execute = "nbd-server-start", arguments = { addr = { type = "unix", data = { path = nbd } } } },
    { execute = "block-export-add", arguments = { type = "nbd", id = "lifeboat-cbt", ["node-name"] = node,
      name = "lifeboat-cbt", writable = false, bitmaps = { bitmap } } } })
  local r
  if not e then
    r = api.exec({ "qemu-img", "map", "--output=json", "--image-opts", "driver=nbd,export=lifeboat-cbt,server.type=unix," ..
      "server.path=" .. nbd .. ",x-dirty-bitmap=qemu:dirty-bitmap:" .. bitmap }, { check = false, timeout = 120,
      netns = false, max_output = math.maxinteger })
  end
  qmp(sock, { { execute = "block-export-del", arguments = { id = "lifeboat-cbt", mode = "hard" } } })
  qmp(sock, { { execute = "nbd-server-stop" } })
  core.fs.remove(nbd)
  if e then error(e, 0) end
  if r.code ~= 0 then error("qemu-img map: " .. r.stderr:gsub("%s+$", ""), 0) end
  local lines, total = {}, 0
  -- with x-dirty-bitmap, qemu-img reports the marked (dirty) ranges as "data": false
  for _, ext in ipairs(json.decode(r.stdout)) do
    if ext.data == false then
      lines[#lines + 1] = string.format("%d %d", math.tointeger(ext.start), math.tointeger(ext.length))
      total = total + ext.length
    end
  end
  local ok, we = core.fs.write(file, table.concat(lines, "\n") .. (#lines > 0 and "\n" or ""), 384)
  if not ok then error(we, 0) end
  return total, #lines
end

-- Per disk, while the VM is paused: how this sync reads it ({args, ...}),
-- starting a new bitmap for the next one.
local function cbt_prepare(ctx, sock, nodes, d, newest)
  local path = core.fs.realpath(ctx.machine_view.datasets[d.name]) or ctx.machine_view.datasets[d.name]
  local disk = nodes[path]
  local plan = { new = "lifeboat-" .. core.random_hex(4) }
  if not disk or not disk.node then plan.why = "QEMU does not show " .. path .. " as a disk" return plan end
  plan.node = disk.node
  local saved = json.decode(core.fs.read(cbt_file(ctx, d)) or "null")
  -- from here until cbt_finish the saved state is gone: a sync killed in
  -- between leaves none, so the next one reads the whole disk
  core.fs.remove(cbt_file(ctx, d))
  local others = false -- bitmaps of an earlier sync that did not finish
  for name in pairs(disk.bitmaps) do
    if name:match("^lifeboat%-") and (type(saved) ~= "table" or name ~= saved.bitmap) then others = true end
  end
  if not have("qemu-img") then plan.why = "qemu-img is not installed (Debian package qemu-utils)"
  elseif type(saved) ~= "table" then
    plan.why = others and "an earlier sync of this VM did not finish" or "no dirty bitmap yet (the disk's first sync here)"
  elseif disk.bitmaps[saved.bitmap] == nil then plan.why = "QEMU has no dirty bitmap " .. saved.bitmap .. " (the VM restarted)"
  elseif disk.bitmaps[saved.bitmap] == false then plan.why = "the dirty bitmap " .. saved.bitmap .. " stopped recording"
  elseif others then plan.why = "an earlier sync of this VM did not finish"
  elseif saved.point ~= newest then
    plan.why = string.format("the bitmap counts from point %s, the newest is %s", tostring(saved.point), tostring(newest))
  end
  for name in pairs(disk.bitmaps) do
    if name:match("^lifeboat%-") and (plan.why or name ~= saved.bitmap) then
      qmp(sock, { { execute = "block-dirty-bitmap-remove", arguments = { node = disk.node, name = name } } })
    end
  end
  local add = { type = "block-dirty-bitmap-add", data = { node = disk.node, name = plan.new, granularity = 65536 } }
  if plan.why then
    local _, e = qmp(sock, { { execute = "transaction", arguments = { actions = { add } } } })
    if e then plan.why = plan.why .. "; " .. e; plan.new = nil end
    return plan
  end
  local _, e = qmp(sock, { { execute = "transaction", arguments = { actions = {
    { type = "block-dirty-bitmap-disable", data = { node = disk.node, name = saved.bitmap } }, add } } } })
  if e then plan.why = e; plan.new = nil return plan end
  plan.old, plan.since = saved.bitmap, saved.point
  local file = ctx.job.dir .. "/logs/" .. ctx.machine_view.name .. "." .. d.name .. ".changed"
  local ok, bytes, n = pcall(dirty_ranges, ctx, sock, disk.node, saved.bitmap, file)
  if not ok then
    plan.why = "cannot read the dirty bitmap: " .. tostring(bytes)
    return plan
  end
  plan.args = { "--changed", file, "--since", saved.point }
  plan.dirty_bytes, plan.ranges = bytes, n
  return plan
end

-- After the sync: the next bitmap counts from the new point, or, when the
-- sync failed, the frozen one is merged back so no write is forgotten;
-- when that cannot be done, no state is kept and the next sync reads the
-- whole disk.
local function cbt_finish(ctx, sock, d, plan, point)
  local file = cbt_file(ctx, d)
  if not plan.node or not plan.new then return end
  if plan.old and not point then
    local _, e = qmp(sock, { { execute = "block-dirty-bitmap-merge", arguments = { node = plan.node, target = plan.new,
      bitmaps = { plan.old } } } })
    if e then api.log("%s: the dirty bitmap could not be merged back (%s): the next sync reads the whole disk", d.name, e)
      return end
  end
  if plan.old then qmp(sock, { { execute = "block-dirty-bitmap-remove", arguments = { node = plan.node, name = plan.old } } }) end
  local since = point or plan.since
  if since then core.fs.write(file, json.encode({ bitmap = plan.new, point = since, node = plan.node }), 384) end
end

-- ROOT/MACHINE/.paused exists while a sync has the VM paused and, with
-- its guest agent, frozen: a sync killed meanwhile (kill -9) leaves it, and
-- the next sync or stop resumes and thaws the VM first.
local function paused_marker(ctx) return ctx.site.root .. "/" .. ctx.machine_view.name .. "/.paused" end

function resume_left(ctx, sock, status)
  local name = ctx.machine_view.name
  if not core.fs.stat(paused_marker(ctx)) then return status end
  if (ctx.machine.vm or {}).guest_agent then
    local st = P.agent(ctx.site, name, { { execute = "guest-fsfreeze-status" } }, 5)
    if st and st[1] == "frozen" then
      api.log("VM %s was left frozen by a sync that did not finish: thawing it", name)
      P.agent(ctx.site, name, { { execute = "guest-fsfreeze-thaw" } }, 30)
    end
  end
  if status == "paused" then
    api.log("VM %s was left paused by a sync that did not finish: resuming it", name)
    local _, e = qmp(sock, { { execute = "cont" } })
    if e then error("cannot resume VM " .. name .. ": " .. e, 0) end
    status = "running"
  end
  core.fs.remove(paused_marker(ctx))
  return status
end

-- Syncs the VM's disks; a running VM is paused for the sync (its disks
-- are then a crash-consistent point) and, with a guest agent, its file
-- systems frozen (app-consistent). It is resumed and thawed however the
-- sync ends: failed, timed out or cancelled (a to-be-closed guard, run
-- also when the step's coroutine is closed), killed (the marker).
function P.sync(ctx)
  local sock, status = running_qmp(ctx)
  if sock then status = resume_left(ctx, sock, status) end
  if not sock or status ~= "running" then return base.sync(ctx) end
  local name = ctx.machine_view.name
  local newest = newest_points(ctx) -- asked before the freeze and the pause, which are kept short
  local marker = paused_marker(ctx)
  local ok, we = core.fs.write(marker, "", 384)
  if not ok then error(we, 0) end
  local agent = (ctx.machine.vm or {}).guest_agent and ctx.consistency ~= "planned"
  local t0, paused, frozen_at, frozen, plans, result = nil, nil, nil, nil, {}, nil
  local problems = {}
  do
    local guard <close> = setmetatable({}, { __close = function()
      for _, d in ipairs(ctx.machine.datasets or {}) do
        if plans[d.name] then
          local point = result and result.datasets[d.name] and result.datasets[d.name].point
          local fok, fe = pcall(cbt_finish, ctx, sock, d, plans[d.name], point)
          if not fok then api.log("%s: %s", d.name, tostring(fe)) end
        end
      end
      if t0 then
        local _, ce = qmp(sock, { { execute = "cont" } })
        if ce then _, ce = qmp(sock, { { execute = "cont" } }) end
        paused = core.mono() - t0
        if ce then problems[#problems + 1] = "VM " .. name .. " could not be resumed: " .. ce end
      end
      if agent then
        -- also after a freeze that failed or timed out: the guest may finish freezing later
        local _, te = P.agent(ctx.site, name, { { execute = "guest-fsfreeze-thaw" } }, 30)
        if frozen_at then frozen = core.mono() - frozen_at end
        if te and frozen_at then problems[#problems + 1] = "VM " .. name .. " could not be thawed: " .. te end
      end
      if #problems == 0 then core.fs.remove(marker) end
    end })
    if agent then
      local r, fe = P.agent(ctx.site, name, { { execute = "guest-fsfreeze-freeze" } }, 30)
      if r then frozen_at = core.mono(); ctx.consistency = "app"
      else api.log("VM %s: file systems not frozen (%s): the point is crash-consistent", name, fe) end
    end
    t0 = core.mono() -- before: a lost answer may still have paused it
    local _, e = qmp(sock, { { execute = "stop" } })
    if e then error("cannot pause VM " .. name .. ": " .. e, 0) end
    local nodes = disk_nodes(sock)
    for _, d in ipairs(ctx.machine.datasets or {}) do plans[d.name] = cbt_prepare(ctx, sock, nodes, d, newest[d.name]) end
    result = base.sync(ctx, function(d) return plans[d.name].args end)
  end -- the guard resumes and thaws here
  if #problems > 0 then error(table.concat(problems, "; "), 0) end
  for dname, p in pairs(plans) do
    local ds = result.datasets[dname]
    if p.args then
      ds.changed_blocks = { bytes = p.dirty_bytes, ranges = p.ranges }
      api.log("%s/%s: changed-block tracking: %s in %d range(s) read", name, dname, util.fmt_size(p.dirty_bytes), p.ranges)
    else
      ds.full_scan = p.why
      api.log("%s/%s: whole disk read and compared: %s", name, dname, p.why)
    end
  end
  if frozen then
    result.frozen_seconds = frozen
    api.log("VM %s: file systems frozen %s (app-consistent)", name, util.fmt_duration(frozen))
  end
  api.log("VM %s paused %s for its sync", name, util.fmt_duration(paused))
  result.paused_seconds = paused
  return result
end

function P.remove(ctx)
  stop_all(ctx, 5)
  local out = base.remove(ctx)
  local net = ctx.site.network
  if not (net and net.isolated) then return out end
  local left, made = false, nil
  for _, res in ipairs(state.resources(ctx.rt.state_dir, ctx.site.name, nil, ctx.job.id)) do
    if res.kind == "vm" or res.kind == "tap" then left = true end
    if res.kind == "network" then made = res end
  end
  -- the last machine's removal takes the isolated network with it
  if made and not left then
    if core.fs.stat("/run/netns/" .. made.ref) then ip({ "netns", "del", made.ref }) end
    -- recorded under the machine whose start made it
    ctx.job:event { ev = "removed", kind = "network", ref = made.ref, site = ctx.site.name, machine = made.machine,
      step = ctx.step.id }
    ctx.job:flush()
    out.network = made.ref
  end
  return out
end

return P
