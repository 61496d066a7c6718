-- guest.edit: applies a tweak to a file inside a VM's disk image before it
-- boots, so connection strings and addresses are right from the first
-- boot. The image holds an ext4 file system (no partition table): its
-- journal is replayed first (e2fsck -p), then the file is read and written
-- with e2fsprogs' debugfs, keeping its mode and owner.
--   uses: guest.edit
--   with: { image: IMAGE, file: /etc/app.conf, tweak: tweak.replace, match: ..., to: ... }
-- Every key but image and tweak goes to the tweak, whose `file` is a copy
-- of the guest's file in the job folder.
local api = require("lifeboat.api")
local plan_mod = require("lifeboat.plan")

local A = {}

local function guest_path_ok(p) return type(p) == "string" and p:match("^/[%w_./%-]+$") and not p:find("/%.%.?/") end

function A.check(with)
  if not with.image then return "'image' is required" end
  if not with.file then return "'file' is required (a path inside the guest)" end
  if not with.tweak then return "'tweak' is required (tweak.replace, tweak.ini, tweak.json, ...)" end
  if type(with.file) == "string" and not with.file:find("${{", 1, true) and not guest_path_ok(with.file) then
    return "'file' must be an absolute path inside the guest of letters, digits, '_', '.', '-' and '/'"
  end
  if type(with.tweak) == "string" and not with.tweak:match("^tweak%.[%w_]+$") then
    return "'tweak' must name a tweak action (tweak.replace, tweak.ini, ...)"
  end
end

local function debugfs(args, what)
  local argv = { "debugfs" }
  for _, a in ipairs(args) do argv[#argv + 1] = a end
  local r = api.exec(argv, { check = false, timeout = 60, netns = false, max_output = math.maxinteger })
  if r.stdout_dropped then error(what .. ": its output was cut (out of memory)", 0) end
  -- debugfs exits 0 after most failures; what went wrong is on stderr
  local said = r.stderr:gsub("^debugfs [^\n]*\n", ""):gsub("%s+$", "")
  if r.code ~= 0 or said ~= "" then error(string.format("%s: %s", what, said ~= "" and said or ("exit " .. r.code)), 0) end
  return r.stdout
end

function A.run(with, ctx)
  local problem = A.check(with)
  if problem then error(problem, 0) end
  local image, file = with.image, with.file
  if not guest_path_ok(file) then error("'file' is not a plain absolute path inside the guest: " .. tostring(file), 0) end
  if not core.fs.stat(image) then error("image " .. image .. " does not exist", 0) end
  -- a disk taken from a VM that was not shut down cleanly has a journal to
  -- replay; debugfs does not replay it, and the kernel would replay it over
  -- this edit at boot: e2fsck replays it first (and refuses a damaged one)
  local fsck = api.exec({ "e2fsck", "-fp", image }, { check = false, timeout = 600, netns = false })
  if fsck.code >= 4 then
    error(string.format("%s: e2fsck found errors it cannot fix without you (exit %d): %s", image, fsck.code,
      ((fsck.stderr .. fsck.stdout):gsub("%s+$", ""):sub(-300))), 0)
  end
  local tmp = file .. ".lifeboat-new"
  local found, stat = pcall(debugfs, { "-R", "stat " .. file, image }, image .. ": " .. file)
  if not found then
    -- an earlier attempt stopped between removing the file and naming the new one
    if not pcall(debugfs, { "-R", "stat " .. tmp, image }, "") then error(stat, 0) end
    debugfs({ "-w", "-R", "ln " .. tmp .. " " .. file, image }, image .. ": restoring " .. file)
    debugfs({ "-w", "-R", "unlink " .. tmp, image }, image .. ": restoring " .. file)
    stat = debugfs({ "-R", "stat " .. file, image }, image .. ": " .. file)
  end
  local mode = stat:match("Mode:%s+(%d+)")
  local uid, gid = stat:match("User:%s+(%d+)%s+Group:%s+(%d+)")
  if not stat:match("Type: regular") then error(string.format("%s: %s is not a regular file", image, file), 0) end
  local text = debugfs({ "-R", "cat " .. file, image }, image .. ": " .. file)
  local dir = ctx.job.dir .. "/guest/" .. (ctx.step and ctx.step.id or "lua"):gsub("/", "%%2F")
  assert(core.fs.mkdir(dir))
  local copy = dir .. "/" .. file:gsub("/", "%%2F")
  local ok, e = core.fs.write(copy, text, 384)
  if not ok then error(e, 0) end
  local inner = {}
  for k, v in pairs(with) do if k ~= "image" and k ~= "tweak" then inner[k] = v end end
  inner.file = copy
  local tweak = plan_mod.load_module(ctx.plan.dir, "actions", with.tweak)
  local r = tweak.run(inner, ctx)
  if copy:find('[%c"]') then error("the job folder's path cannot be given to debugfs: " .. copy, 0) end
  -- the new text under a temporary name first: the old file goes only once
  -- the new one is whole, and then the new name takes its place
  local cmds = dir .. "/debugfs.cmd"
  ok, e = core.fs.write(cmds, table.concat({ 'write "' .. copy .. '" ' .. tmp,
    "sif " .. tmp .. " mode 0" .. string.format("%o", 0x8000 | (tonumber(mode, 8) or 420)),
    "sif " .. tmp .. " uid " .. (uid or 0), "sif " .. tmp .. " gid " .. (gid or 0) }, "\n") .. "\n", 384)
  if not ok then error(e, 0) end
  pcall(debugfs, { "-w", "-R", "rm " .. tmp, image }, "") -- a leftover of an earlier attempt
  debugfs({ "-w", "-f", cmds, image }, image .. ": writing " .. tmp)
  ok, e = core.fs.write(cmds, "rm " .. file .. "\nln " .. tmp .. " " .. file .. "\nunlink " .. tmp .. "\n", 384)
  if not ok then error(e, 0) end
  debugfs({ "-w", "-f", cmds, image }, image .. ": replacing " .. file)
  api.log("%s: %s inside %s", file, r.changes or "changed", image)
  return { image = image, file = file, changes = r.changes }
end

return A
