-- store.lua: the one module that owns the plan's replica store
-- (rt.store = {url, key_file}): where it is, whether it exists, creating
-- it, its points and choosing one, retention, forgetting a machine, and
-- the plan's state and fence recorded in it. The store may be a folder or
-- a remote store (s3://, az://, sftp://): nothing here or elsewhere treats
-- its URL as a path. Everything goes through this program's own commands
-- (store, sync, restore, points, prune), as a protected or recovering host
-- would run them; the calls block: make them inside a step.
local api = require("lifeboat.api")
local json = require("lifeboat.json")
local util = require("lifeboat.util")

local M = {}

-- What a lifeboat child needs from this process's environment to reach a
-- store: its key, the credentials of a remote store and the settings of
-- its transfers. Children get a clean environment, so these are passed on
-- explicitly, when set.
M.CHILD_ENV = {
  "LIFEBOAT_PASSPHRASE", "LIFEBOAT_KEY_FILE",
  "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_REGION", "AWS_DEFAULT_REGION",
  "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_CA_BUNDLE",
  "AZURE_STORAGE_CONNECTION_STRING", "AZURE_STORAGE_ACCOUNT", "AZURE_STORAGE_KEY", "AZURE_STORAGE_SAS_TOKEN",
  "LIFEBOAT_SSH_KEY", "LIFEBOAT_SSH_KNOWN_HOSTS",
  "LIFEBOAT_RETRIES", "LIFEBOAT_IO_TIMEOUT", "LIFEBOAT_LEASE_SECONDS", "LIFEBOAT_SPOOL_DIR",
}

-- The env table for a lifeboat child: the CHILD_ENV variables that are set.
function M.child_env()
  local env = {}
  for _, name in ipairs(M.CHILD_ENV) do
    local v = core.getenv(name)
    if v then env[name] = v end
  end
  return env
end

-- The store a plan names: a URL as it is, a path relative to the plan's folder.
function M.resolve(base, url)
  if url:match("^%a[%w+.-]*://") and not url:match("^file://") then return url end
  return util.join(base, (url:gsub("^file://", "")))
end

-- Runs `lifeboat ARGS...` (with --store URL unless no_store) and returns
-- the decoded --json answer; raises with the command's own error line. The
-- answer is captured whole (a long history lists thousands of points).
local function lifeboat(rt, args, opts)
  opts = opts or {}
  if not rt.store then error("the plan names no replica store: add 'store: URL' (a folder, s3://, az:// or sftp://)", 0) end
  local argv = { core.self_exe(), table.unpack(args) }
  if not opts.no_store then argv[#argv + 1] = "--store"; argv[#argv + 1] = rt.store.url end
  if rt.store.key_file and not opts.no_key then argv[#argv + 1] = "--key-file"; argv[#argv + 1] = rt.store.key_file end
  argv[#argv + 1] = "--json"
  local r = api.exec(argv, { check = false, timeout = opts.timeout, env = M.child_env(), max_output = math.maxinteger,
    netns = false })
  if r.code ~= 0 then error((((r.stderr ~= "" and r.stderr or r.stdout):gsub("%s+$", ""))), 0) end
  local what = "'lifeboat " .. args[1] .. " --store " .. rt.store.url .. "'"
  if r.stdout_dropped then
    error(string.format("%s: its answer was cut after %d bytes (out of memory)", what, #r.stdout), 0)
  end
  local v, e = json.decode(r.stdout)
  if v == json.null and opts.null_ok then return nil end
  if type(v) ~= "table" then
    error(string.format("%s answered what is not a JSON object or list (%s): %s", what, e or "got " .. tostring(v),
      r.stdout:sub(1, 120)), 0)
  end
  return v
end

function M.run(rt, args, timeout) return lifeboat(rt, args, { timeout = timeout }) end

-- What the URL holds ({exists, encrypted, ...}), asked once per job.
function M.info(rt)
  if not rt.store then return { exists = false } end
  if not rt.store.info then
    rt.store.info = lifeboat(rt, { "store", "info", rt.store.url }, { no_store = true, no_key = true })
  end
  return rt.store.info
end

function M.exists(rt) return rt.store ~= nil and M.info(rt).exists end

-- Creates the store (encrypted when the plan names a key file) unless it exists.
function M.ensure(rt)
  if not rt.store or M.exists(rt) then return end
  local argv = { core.self_exe(), "store", "init", rt.store.url }
  if rt.store.key_file then
    argv[#argv + 1] = "--encrypt"; argv[#argv + 1] = "--key-file"; argv[#argv + 1] = rt.store.key_file
  end
  api.exec(argv, { env = M.child_env(), netns = false })
  rt.store.info = nil
end

-- Points, oldest first ({} while the store does not exist); scope is
-- MACHINE or MACHINE/DATASET, or nil for all.
function M.points(rt, scope)
  if not M.exists(rt) then return {} end
  return lifeboat(rt, { "points", scope })
end

-- The point a restore uses: latest, latest-app, an id (prefix) or a time
-- (RFC 3339, or a duration ago such as 2h).
function M.choose_point(points, want)
  want = want or "latest"
  local chosen
  if want == "latest" then chosen = points[#points]
  elseif want == "latest-app" then
    for i = #points, 1, -1 do
      if points[i].consistency == "app" or points[i].consistency == "planned" then chosen = points[i] break end
    end
  else
    local t = util.parse_time(want)
    local ago = util.parse_duration(want)
    if ago then t = core.now() - ago end
    if t then
      for i = #points, 1, -1 do
        if (util.parse_time(points[i].time) or 0) <= t then chosen = points[i] break end
      end
    else
      for _, p in ipairs(points) do
        if p.id:sub(1, #want) == want then
          if chosen then error("point '" .. want .. "' is ambiguous", 0) end
          chosen = p
        end
      end
    end
  end
  if chosen then chosen.unix = util.parse_time(chosen.time) end
  return chosen
end

-- --point SPEC: one spec for every machine ("latest", "latest-app",
-- "latest-consistent", an id prefix, a time or an age), or per machine,
-- "db=ID,web=latest-app", an item without '=' the one for the others.
-- -> {default = SPEC, [machine] = SPEC} | nil, why
function M.parse_point_spec(text, machines)
  local spec = {}
  if text == nil then return spec end
  for item in (text .. ","):gmatch("([^,]*),") do
    local name, value = item:match("^([^=]+)=(.*)$")
    if item == "" or value == "" then return nil, string.format("--point '%s': an empty item", text) end
    if name then
      if not util.contains(machines, name) then
        return nil, string.format("--point: the plan has no machine '%s' (machines: %s)", name, table.concat(machines, ", "))
      end
      if spec[name] then return nil, string.format("--point: '%s' is given twice", name) end
      spec[name] = value
    else
      if spec.default then return nil, string.format("--point '%s': two points for every machine", text) end
      spec.default = item
    end
  end
  return spec
end

-- The newest replicate run (point `run`) with a point of every dataset of
-- these machines: {[machine/dataset] = point} | nil. Runs are ordered by
-- where their point is in the first dataset's list (oldest first), which
-- every complete run has one in.
local function newest_consistent(rt, plan, machines)
  local by_run, rank = {}, nil
  local need = 0
  for _, name in ipairs(machines) do
    for _, d in ipairs(plan.raw.machines[name].datasets or {}) do
      need = need + 1
      local key = name .. "/" .. d.name
      local first = rank == nil
      if first then rank = {} end
      for i, p in ipairs(M.points(rt, key)) do
        if p.run then
          local set = by_run[p.run] or { n = 0, points = {} }
          by_run[p.run] = set
          if not set.points[key] then set.n = set.n + 1 end
          set.points[key] = p -- a run's last point of a dataset wins
          if first then rank[p.run] = i end
        end
      end
    end
  end
  local best
  for run, set in pairs(by_run) do
    if set.n == need and (not best or rank[run] > rank[best]) then best = run end
  end
  return best and by_run[best].points or nil, best
end

-- The machines whose points must come from one replicate run with this one.
function M.consistency_group(plan, machine)
  for _, members in pairs(plan.raw.consistency_groups or {}) do
    if util.contains(members, machine) then return members end
  end
  return { machine }
end

-- The point a job restores of machine/dataset, chosen by --point.
function M.point_for(rt, plan, machine, dataset)
  local spec = rt.point_spec or M.parse_point_spec(rt.args.point, plan.machine_order) or {}
  rt.point_spec = spec
  local want = spec[machine] or spec.default or "latest"
  if want ~= "latest-consistent" then
    local p = M.choose_point(M.points(rt, machine .. "/" .. dataset), want)
    if not p then error(string.format("no %s point of %s/%s in the store", want, machine, dataset), 0) end
    return p
  end
  local members = M.consistency_group(plan, machine)
  rt.consistent = rt.consistent or {}
  local key = table.concat(members, ",")
  if not rt.consistent[key] then -- once per job: every member takes the same run
    local points, run = newest_consistent(rt, plan, members)
    if not points then
      error(string.format("no replicate run has a point of every dataset of %s (latest-consistent)",
        table.concat(members, ", ")), 0)
    end
    rt.consistent[key] = { points = points, run = run }
  end
  local p = rt.consistent[key].points[machine .. "/" .. dataset]
  p.unix = util.parse_time(p.time)
  return p
end

-- Forgets the points of these machines older than `within` seconds (the
-- newest of each dataset always stays); returns how many went. A machine
-- with no point to forget is not pruned at all: a prune marks everything
-- the store's points reach, which over a remote store takes seconds, and
-- garbage (packs of interrupted syncs) waits for the next prune that
-- forgets something.
function M.retention(rt, machines, within)
  local points, newest = M.points(rt), {}
  for _, p in ipairs(points) do newest[p.machine .. "/" .. p.dataset] = p end -- oldest first
  local cutoff, due = core.now() - within, {}
  for _, p in ipairs(points) do
    if newest[p.machine .. "/" .. p.dataset] ~= p and (util.parse_time(p.time) or cutoff) < cutoff then
      due[p.machine] = true
    end
  end
  local forgotten = 0
  for _, name in ipairs(machines) do
    if due[name] then
      local r = lifeboat(rt, { "prune", name, "--keep-within", math.floor(within) .. "s" })
      forgotten = forgotten + (r.points_forgotten or 0)
    end
  end
  return forgotten
end

-- Forgets every point of a machine (a committed migration).
function M.forget(rt, machine)
  return lifeboat(rt, { "prune", machine, "--forget-all" })
end

-- The plan's state as the store records it, or nil.
function M.fence_get(rt, plan_name)
  if not M.exists(rt) then return nil end
  return lifeboat(rt, { "store", "state", plan_name }, { null_ok = true })
end

-- Records the plan's state in the store ({phase, active, source (a site or
-- nil), machines, job}), unless the store holds exactly that already.
function M.fence_set(rt, plan_name, st)
  if not M.exists(rt) then return nil end
  local cur = M.fence_get(rt, plan_name)
  local source = st.source or "none"
  if cur and cur.phase == st.phase and cur.active == st.active and (cur.source or "none") == source and
    table.concat(cur.machines or {}, ",") == table.concat(st.machines, ",") then
    return cur
  end
  return lifeboat(rt, { "store", "state", plan_name, "--phase", st.phase, "--active", st.active, "--source", source,
    "--machines", table.concat(st.machines, ","), st.job and "--job" or nil, st.job })
end

return M
