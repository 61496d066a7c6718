-- watch.lua — `lifeboat protect` watches the tree datasets it replicates
-- from this host (local provider) with inotify (core.watch), so that a
-- sync lists only the folders that changed since the dataset's last point
-- (`lifeboat sync --changed FILE --since POINT`); every other folder is
-- taken whole from that point. The first sync after a watch starts, any
-- sync after the watcher lost track (the kernel's queue overflowed, a
-- watch could not be added), after a point the service did not make, and
-- one an hour in any case (what inotify cannot see: writes through a
-- shared mapping, a hard link from outside the tree) lists every folder.
local M = {}
local RESCAN_EVERY = 3600

-- The watchers of the plan whose replicate job runs now.
local active
local MAX_LISTED = 100000 -- more changed folders than this: list them all

-- Called by the provider's sync of a tree dataset at PATH, right before it
-- reads it (after any quiesce hook): what the watcher saw until now, as a
-- file for `sync --changed FILE --since POINT`, or nil for a full listing.
function M.hint(machine, dataset, path)
  local key = machine .. "/" .. dataset
  local w = active and active.by_key[key]
  if not w or w.path ~= path then return nil end
  local list, lost, why = w.watch:take()
  if lost then
    -- a new watcher (the folder itself may have been replaced), and every folder listed
    active.say(string.format("protect: %s: the watcher lost track (%s); this sync lists every folder", key, why))
    w.watch:close()
    active:open(key, path)
    return nil
  end
  for _, p in ipairs(list) do w.changed[p] = true end
  if not w.since or core.now() - (w.full_at or 0) >= RESCAN_EVERY then return nil end
  local names = {}
  for p in pairs(w.changed) do names[#names + 1] = p end
  if #names > MAX_LISTED then return nil end
  table.sort(names)
  local file = active.dir .. "/" .. machine .. "+" .. dataset .. ".changed"
  assert(core.fs.mkdir(active.dir))
  assert(core.fs.write(file, #names > 0 and table.concat(names, "\0") .. "\0" or "", 384))
  return file, w.since
end

local Set = {}
Set.__index = Set

-- The watchers of one plan; its hint files live in STATE/watch.
function M.new(state_dir)
  return setmetatable({ dir = state_dir .. "/watch", by_key = {} }, Set)
end

-- The tree datasets this host replicates from in plan state st: key -> path.
local function wanted(plan, st)
  local ops = require("lifeboat.ops")
  local site = ops.site(plan, require("lifeboat.state").replication_source(st))
  if not site or site.provider ~= "local" then return {} end
  local provider = ops.provider(plan, "local")
  local out = {}
  for _, name in ipairs(plan.machine_order) do
    for _, d in ipairs(plan.raw.machines[name].datasets or {}) do
      if d.kind == "tree" then out[name .. "/" .. d.name] = provider.dataset_path(site, { name = name }, d) end
    end
  end
  return out
end

function Set:open(key, path)
  local watch, why = core.watch(path)
  self.by_key[key] = watch and { path = path, watch = watch, changed = {} } or nil
  if not watch and self.failed ~= key .. why then
    self.failed = key .. why
    self.say(string.format("protect: %s: not watched, every sync lists every folder (%s)", key, why))
  end
end

-- Before a replicate job: watches what the plan replicates now (a new
-- watch is in place before the job's first sync reads the folder).
function Set:before(plan, st, say)
  self.say = say
  local want = wanted(plan, st)
  for key, w in pairs(self.by_key) do
    if want[key] ~= w.path then w.watch:close(); self.by_key[key] = nil end
  end
  for key, path in pairs(want) do
    if not self.by_key[key] and core.fs.stat(path) then self:open(key, path) end
  end
  active = self
end

-- After the job: syncs[key] = {point, walk} of the datasets it synced.
-- A dataset synced is the watchers' new starting point; one that was not
-- keeps what was seen for the next try.
function Set:after(syncs)
  for key, w in pairs(self.by_key) do
    local s = syncs[key]
    if s and s.point and s.point ~= w.since then
      w.since, w.changed = s.point, {}
      if s.walk ~= "changed" then w.full_at = core.now() end
    end
  end
  active = nil
end

function Set:close()
  for _, w in pairs(self.by_key) do w.watch:close() end
  self.by_key = {}
  if active == self then active = nil end
end

return M
