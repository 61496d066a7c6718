-- job.lua: a job's folder and journal. The journal is JSON lines; events
-- are buffered and written with one fdatasync per flush, and the
-- scheduler flushes before it starts any step, so what a step did is on
-- disk before anything that depends on it begins.
local json = require("lifeboat.json")
local secrets = require("lifeboat.secrets")
local util = require("lifeboat.util")

local M = {}
local Job = {}
Job.__index = Job

function M.state_dir(plan_file, given)
  if given then return given end
  local env = core.getenv("LIFEBOAT_STATE")
  if env and env ~= "" then return env end
  if plan_file then
    local dir = util.dirname(plan_file)
    return util.join(core.fs.realpath(dir) or dir, ".lifeboat")
  end
  return ".lifeboat"
end

local function must(ok, e) if not ok then error(e, 0) end return ok end

function M.create(state_dir, op, plan, args)
  local id = os.date("!%Y%m%d-%H%M%S") .. "-" .. op .. "-" .. core.random_hex(2)
  local dir = state_dir .. "/jobs/" .. id
  must(core.fs.mkdir(dir .. "/logs"))
  local job = setmetatable({ id = id, dir = dir, state_dir = state_dir, op = op, buf = {},
    journal = dir .. "/journal.jsonl", started = core.now(), steps = {}, plan_name = plan.name, messages = {}, notes = {},
    signoffs = {} }, Job)
  job:event { ev = "job", id = id, op = op, plan = plan.abs, plan_sha = plan.sha, plan_name = plan.name,
    args = args, t = core.now(), version = 1 }
  job:flush()
  return job
end

-- Reads a job's journal: the header, the last event of each step and the
-- job's state events, for resume, `job` and `jobs`.
function M.open(state_dir, id)
  if not id:match("^[%w%-_.]+$") then return nil, "no job '" .. id .. "'" end
  local dir = state_dir .. "/jobs/" .. id
  local text = core.fs.read(dir .. "/journal.jsonl")
  if not text then return nil, "no job '" .. id .. "' in " .. state_dir end
  local job = setmetatable({ id = id, dir = dir, state_dir = state_dir, buf = {}, journal = dir .. "/journal.jsonl",
    steps = {}, order = {}, created = {}, messages = {}, notes = {}, signoffs = {}, state = "running" }, Job)
  local n, pos = 0, 1
  while pos <= #text do
    local nl = text:find("\n", pos, true)
    local line = text:sub(pos, (nl or #text + 1) - 1)
    local line_start = pos
    pos = (nl or #text) + 1
    if line ~= "" then
      n = n + 1
      local e = json.decode(line)
      if not nl then
        -- the last line has no newline: a write a crash cut short. It is
        -- ignored when torn; the next flush starts a new line either way.
        job.tail = type(e) == "table" and { complete = #text } or { cut = line_start - 1 }
      end
      if type(e) ~= "table" then
        if n > 1 and not nl then break end
        return nil, string.format("%s/journal.jsonl:%d: damaged journal line", dir, n)
      end
      if e.ev == "job" then
        job.op, job.plan, job.plan_sha, job.args, job.started, job.plan_name = e.op, e.plan, e.plan_sha, e.args, e.t, e.plan_name
      elseif e.ev == "state" then
        job.state, job.ended, job.error, job.failures = e.state, e.t, e.error, e.failures
        if e.rto then job.rto = e.rto end
      elseif e.ev == "created" then
        job.created[#job.created + 1] = e
      elseif e.ev == "removed" then
        job.created[#job.created + 1] = e
      elseif e.ev == "resumed" then
        job.resumes = (job.resumes or 0) + 1
      elseif e.ev == "message" then
        job.messages[#job.messages + 1] = { step = e.step, level = e.level, text = e.text }
      elseif e.ev == "note" then
        job.notes[#job.notes + 1] = { by = e.by, t = e.t, text = e.text }
      elseif e.ev == "signoff" then
        job.signoffs[#job.signoffs + 1] = { by = e.by, t = e.t }
      elseif e.step then
        local s = job.steps[e.step]
        if not s then
          s = { id = e.step }
          job.steps[e.step] = s
          job.order[#job.order + 1] = e.step
        end
        if e.ev == "start" then s.started, s.attempt, s.title = e.t, e.attempt, e.title or s.title end
        s.state = ({ start = "running", done = "done", fail = e.final and "failed" or "retrying",
          wait = "waiting", cancel = "cancelled", skip = "skipped" })[e.ev] or s.state
        if e.ev == "done" or e.ev == "fail" or e.ev == "cancel" then s.ended = e.t end
        if e.error then s.error = e.error end
        if e.result then s.result = e.result end
        if e.continued then s.continued = true end
        if e.group then s.group = e.group end
        if e.machine then s.machine = e.machine end
      end
    end
  end
  if not job.op then return nil, dir .. "/journal.jsonl: no job header" end
  return job
end

-- A job's state as people read it: done with failures when steps failed
-- under on_error: continue.
function M.state_label(state, failures)
  if state == "done" and failures then return "done with failures" end
  return state
end

function M.list(state_dir)
  local names = core.fs.list(state_dir .. "/jobs") or {}
  local jobs = {}
  for _, id in ipairs(names) do
    local j = M.open(state_dir, id)
    if j then jobs[#jobs + 1] = j end
  end
  table.sort(jobs, function(a, b) return (a.started or 0) < (b.started or 0) end)
  return jobs
end

-- Secrets are redacted before the event is encoded (an escaped secret
-- would not match) and again after (its encoded forms).
function Job:event(e)
  e.t = e.t or core.now()
  self.buf[#self.buf + 1] = secrets.redact(json.encode(secrets.redact_value(e)))
end

function Job:flush()
  if #self.buf == 0 then return end
  local data = table.concat(self.buf, "\n") .. "\n"
  self.buf = {}
  local ok, e
  if self.tail and self.tail.cut then
    -- a resumed job whose journal ends in a torn line: drop it first
    local text
    text, e = core.fs.read(self.journal)
    if text then ok, e = core.fs.write(self.journal, text:sub(1, self.tail.cut) .. data) end
  else
    if self.tail then data = "\n" .. data end
    ok, e = core.fs.append(self.journal, data, true)
  end
  if not ok then error("cannot write the journal: " .. e, 0) end
  self.tail = nil
end

function Job:log_path(step_id)
  return self.dir .. "/logs/" .. step_id:gsub("[^%w%-_.]", "_") .. ".log"
end

function Job:log(step_id, text)
  core.fs.append(self:log_path(step_id), secrets.redact(text))
end

-- A warning or error a step logged: in the journal, so reports list it.
function Job:message(step_id, level, text)
  self:event { ev = "message", step = step_id, level = level, text = text }
  self.messages[#self.messages + 1] = { step = step_id, level = level, text = secrets.redact(text) }
end

-- An observation (drill --note, `job ID note`) and a sign-off, by a person.
function Job:note(text, by)
  local t = core.now()
  self:event { ev = "note", text = text, by = by, t = t }
  self:flush()
  self.notes[#self.notes + 1] = { by = by, t = t, text = secrets.redact(text) }
end

function Job:sign(by)
  local t = core.now()
  self:event { ev = "signoff", by = by, t = t }
  self:flush()
  self.signoffs[#self.signoffs + 1] = { by = by, t = t }
end

-- A request to cancel the job (`lifeboat cancel`), which its running
-- process looks for.
function Job:cancel_path() return self.dir .. "/cancel" end
function Job:request_cancel(by)
  local ok, e = core.fs.write(self:cancel_path(), json.encode({ by = by, t = core.now() }) .. "\n")
  if not ok then error(e, 0) end
end
function Job:cancel_requested() return core.fs.stat(self:cancel_path()) ~= nil end
function Job:withdraw_cancel() core.fs.remove(self:cancel_path()) end

-- Approvals given with `lifeboat approve`, one step id per line ("*" = all).
function Job:approvals()
  local text = core.fs.read(self.dir .. "/approvals") or ""
  local out = {}
  for line in text:gmatch("[^\n]+") do out[line] = true end
  return out
end

function Job:approve(step_id)
  local ok, e = core.fs.append(self.dir .. "/approvals", step_id .. "\n", true)
  if not ok then error(e, 0) end
end

return M
