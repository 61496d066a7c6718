-- out.lua: what a running job prints. On a terminal: one line per
-- finished step under a live status line (colour unless NO_COLOR);
-- otherwise plain timestamped lines; with --json one JSON object per
-- event on stdout.
local json = require("lifeboat.json")
local secrets = require("lifeboat.secrets")
local util = require("lifeboat.util")

local M = { mode = "plain", color = false }

local tty_out = core.isatty(1)

function M.setup(opts)
  if opts.json then M.mode = "json"
  elseif tty_out then M.mode = "live" else M.mode = "plain" end
  local nc = core.getenv("NO_COLOR")
  M.color = M.mode == "live" and not (nc and nc ~= "")
  M.running, M.total, M.finished, M.started = {}, opts.total or 0, 0, core.mono()
  M.job = opts.job
end

local function paint(code, s) return M.color and ("\27[" .. code .. "m" .. s .. "\27[0m") or s end
M.paint = paint

-- Text that comes from outside (a command's output in a step's error, a
-- log line, a title): redacted, then every control character but newline
-- and tab shown as \xNN, so it cannot move the cursor, retitle or clear
-- the operator's terminal, or hide what follows.
function M.shown(s)
  return (secrets.redact(tostring(s)):gsub("[%c]", function(c)
    if c == "\n" or c == "\t" then return c end
    return string.format("\\x%02x", c:byte())
  end))
end
local shown = M.shown

-- Text is redacted as it leaves; JSON is also redacted before it is
-- encoded (an escaped secret would not match).
local function write(s) core.write(1, secrets.redact(s)) end

local status_shown = false
local function clear_status()
  if status_shown then core.write(1, "\r\27[K"); status_shown = false end
end

local function draw_status()
  if M.mode ~= "live" then return end
  local names = {}
  for id in pairs(M.running) do names[#names + 1] = id end
  table.sort(names)
  local shown = table.concat(names, ", ", 1, math.min(3, #names))
  if #names > 3 then shown = shown .. string.format(" +%d", #names - 3) end
  local line = string.format("%d/%d steps · %s · running: %s", M.finished, M.total,
    util.fmt_duration(core.mono() - M.started), #names > 0 and shown or "-")
  local width = core.term_width() - 1
  if #line > width then line = line:sub(1, width) end
  core.write(1, "\r\27[K" .. paint("2", line))
  status_shown = true
end

function M.line(s)
  if M.mode == "json" then return end
  clear_status()
  write(s .. "\n")
  draw_status()
end

local marks = { done = { "32", "✓" }, fail = { "31", "✗" }, retry = { "33", "↻" }, wait = { "33", "⏸" },
  cancel = { "33", "■" }, blocked = { "2", "-" } }

function M.event(kind, s)
  if M.mode == "json" then
    local e = { ev = kind, job = M.job and M.job.id, t = core.now() }
    if s then
      e.step, e.title, e.group, e.machine, e.state = s.id, s.title, s.group, s.machine, s.state
      e.attempt, e.error = s.attempt, s.error
      if s.ended and s.started then e.secs = s.ended - s.started end
    end
    write(json.encode(secrets.redact_value(e)) .. "\n")
    return
  end
  if kind == "interrupt" then M.line(paint("33", "interrupted: stopping running steps")); return end
  if kind == "cancel" and not s then
    M.line(paint("33", "cancelled: stopping running steps, skipping the rest, running the clean-up steps")); return
  end
  if kind == "start" then
    M.running[s.id] = true
    if M.mode == "plain" then M.line(os.date("%H:%M:%S") .. "  start  " .. shown(s.id) .. "  " .. shown(s.title)) end
    draw_status()
    return
  end
  M.running[s.id] = nil
  if kind == "done" or kind == "fail" or kind == "blocked" then M.finished = M.finished + 1 end
  local mark = marks[kind] or { "0", "?" }
  local secs = s.ended and s.started and ("  " .. util.fmt_duration(s.ended - s.started)) or ""
  local detail = ""
  if kind == "fail" or kind == "retry" or kind == "wait" or kind == "cancel" then
    detail = "\n      " .. paint(mark[1], shown(s.error))
  end
  if kind == "blocked" then detail = "  (not run: " .. shown(s.skipped_because or "the job is stopping") .. ")" end
  if M.mode == "plain" then
    M.line(string.format("%s  %-5s  %s%s%s", os.date("%H:%M:%S"), kind, shown(s.id), secs, detail))
  else
    M.line(string.format("  %s %-32s %s%s%s", paint(mark[1], mark[2]), shown(s.id), paint("2", shown(s.title)), secs,
      detail))
  end
end

-- log() from a step, indented (warnings yellow, errors red, both named).
local LEVEL = { warn = { "33", "warning: " }, error = { "31", "error: " } }
function M.log(step, text, level)
  if M.mode == "json" then
    write(json.encode(secrets.redact_value { ev = "log", job = M.job and M.job.id, step = step and step.id, text = text,
      level = level or "info", t = core.now() }) .. "\n")
  else
    local l = LEVEL[level]
    local line = shown((step and (step.id .. ": ") or "") .. (l and l[2] or "") .. text)
    M.line("      " .. (l and paint(l[1], line) or line))
  end
end

function M.finish() clear_status() end

return M
