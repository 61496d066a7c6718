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

-- What the provider's sync asks: {file, since} per "machine/dataset" for
-- the job that runs now.
local hints = {}

function M.hint(machine, dataset)
  local h = hints[machine .. "/" .. dataset]
  if h then return h.file, h.since end
end

local Set = {}
Set.__index = Set

-- The watchers of one plan; its hint files live in STATE/watch.
function M.new(state_dir)
  return setmetatable({ dir = state_dir .. "/watch", by_key = {} }, Set)
end

-- The tree datasets this host replicates from: key -> path.
local function wanted(plan, state_dir)
  local ops = require("lifeboat.ops")
  local st = require("lifeboat.state").load(state_dir)
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

-- Before a replicate job: watches what the plan replicates now, takes what
-- each watcher saw, and writes the hints of the datasets it can vouch for.
function Set:before(plan, state_dir, say)
  local want = wanted(plan, state_dir)
  for key, w in pairs(self.by_key) do
    if want[key] ~= w.path then w.watch:close(); self.by_key[key] = nil end
  end
  hints = {}
  for key, path in pairs(want) do
    local w = self.by_key[key]
    if not w and core.fs.stat(path) then
      local watch, why = core.watch(path)
      if watch then
        w = { path = path, watch = watch, changed = {} }
        self.by_key[key] = w
      elseif self.failed ~= key .. why then
        self.failed = key .. why
        say(string.format("protect: %s: not watched, every sync lists every folder (%s)", key, why))
      end
    end
    if w then
      local list, lost, why = w.watch:take()
      for _, p in ipairs(list) do w.changed[p] = true end
      if lost then
        say(string.format("protect: %s: the watcher lost track (%s); this sync lists every folder", key, why))
        w.since = nil
      end
      if w.since and core.now() - (w.full_at or 0) < RESCAN_EVERY then
        local names = {}
        for p in pairs(w.changed) do names[#names + 1] = p end
        table.sort(names)
        local file = self.dir .. "/" .. key:gsub("/", ".") .. ".changed"
        assert(core.fs.mkdir(self.dir))
        assert(core.fs.write(file, #names > 0 and table.concat(names, "\0") .. "\0" or "", 384))
        hints[key] = { file = file, since = w.since }
      end
    end
  end
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
  hints = {}
end

function Set:close()
  for _, w in pairs(self.by_key) do w.watch:close() end
  self.by_key, hints = {}, {}
end

return M
