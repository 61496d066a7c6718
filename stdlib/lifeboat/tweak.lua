-- tweak.lua: what the tweak actions share. edit() reads a file, keeps what
-- it held before the step in the job folder (per step: a resumed step
-- starts again from the same text, so it cannot apply itself twice),
-- applies a change and writes the result atomically.
-- A change that selects nothing is an error: a silent no-op must not pass.
local api = require("lifeboat.api")
local json = require("lifeboat.json")

local M = {}

local function original_path(job, step, file)
  local name = (step and step.id or "lua") .. "/" .. file
  return job.dir .. "/originals/" .. name:gsub("%%", "%%25"):gsub("/", "%%2F")
end

-- edit(ctx, FILE, fn(text) -> new_text, summary)
function M.edit(ctx, file, fn)
  if type(file) ~= "string" or file == "" then error("'file' is required", 0) end
  local current, e = core.fs.read(file)
  if not current then error(e, 0) end
  local job = ctx and ctx.job
  local text = current
  if job and job.dir then
    local keep = original_path(job, ctx.step, file)
    local saved = core.fs.read(keep)
    if saved then text = saved
    else
      assert(core.fs.mkdir(job.dir .. "/originals"))
      local ok, we = core.fs.write(keep, current, 384)
      if not ok then error(we, 0) end
      job:event { ev = "changed", file = file, original = keep, step = ctx.step and ctx.step.id }
    end
  end
  local new, summary = fn(text)
  local ok, we = core.fs.write(file, new)
  if not ok then error(we, 0) end
  api.log("%s: %s", file, summary)
  return { file = file, changes = summary }
end

-- The tweak actions also as lifeboat.tweak.X{...} for Lua code.
function M.api(ctx_of)
  local t = {}
  for _, name in ipairs({ "ini", "json", "xml", "replace", "template" }) do
    t[name] = function(with) return require("actions.tweak." .. name).run(with, ctx_of()) end
  end
  return t
end

function M.value_text(v)
  if type(v) == "table" then return json.encode(v) end
  if v == json.null then return "" end
  return tostring(v)
end

function M.need_set(with)
  if type(with.file) ~= "string" and type(with.file) ~= "table" then return "'file' is required" end
  if type(with.set) ~= "table" or next(with.set) == nil then return "'set' needs at least one entry" end
end

return M
