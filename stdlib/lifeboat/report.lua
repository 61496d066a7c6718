-- report.lua: what a drill or failover proves. summarize() turns a finished
-- run into the facts (RTO reached, RPO of every point used, against the
-- plan's objectives, per group and step, with the evidence of each health
-- check); write() puts them in the job folder as report.json, report.md,
-- junit.xml (one test case per step) and a self-contained report.html
-- with an SVG timeline.
local json = require("lifeboat.json")
local operations = require("lifeboat.operations")
local secrets = require("lifeboat.secrets")
local util = require("lifeboat.util")

local M = {}


function M.summarize(job, plan, steps, result, err, rt)
  local started = job.started or core.now()
  local s = { plan = plan.name, op = job.op, job = job.id, result = result, error = err,
    started = started, ended = core.now(), objectives = plan.raw.objectives or {},
    steps = json.array(), groups = json.array(), machines = {} }
  local last_health, groups, gorder = nil, {}, {}
  for _, st in ipairs(steps) do
    local prev = job.steps and job.steps[st.id] or {}
    local e = { id = st.id, title = st.title, group = st.group, machine = st.machine, kind = st.kind,
      state = st.state, attempt = st.attempt ~= 0 and st.attempt or prev.attempt,
      started = st.started or prev.started, ended = st.ended or prev.ended, error = st.error or prev.error }
    if e.state == "pending" and prev.state then e.state = prev.state end
    local res = st.result or prev.result or st.partial
    if type(res) == "table" then
      e.evidence = res.evidence
      if res.datasets and st.kind == "restore" then e.points = res.datasets end
    end
    if e.started and e.ended then e.secs = e.ended - e.started end
    s.steps[#s.steps + 1] = e
    if st.kind == "health" and e.state == "done" and e.ended then
      last_health = math.max(last_health or 0, e.ended)
    end
    if st.group and e.started and not st.always then
      local g = groups[st.group]
      if not g then g = { name = st.group }; groups[st.group] = g; gorder[#gorder + 1] = st.group end
      g.started = math.min(g.started or e.started, e.started)
      g.ended = math.max(g.ended or e.ended or e.started, e.ended or e.started)
      if e.state == "failed" then g.failed = true end
    end
    if st.machine and st.kind ~= "action" then
      local m = s.machines[st.machine] or { group = st.group }
      s.machines[st.machine] = m
      if e.points then m.points = e.points end
      if st.kind == "health" and not st.always then
        m.healthy = e.state == "done"
        m.evidence = e.evidence
      end
    end
  end
  for _, name in ipairs(gorder) do
    local g = groups[name]
    g.secs = g.ended and (g.ended - g.started) or nil
    s.groups[#s.groups + 1] = g
  end
  local all_healthy = true
  local up = false
  for _, m in pairs(s.machines) do
    if m.healthy ~= nil then up = true end
    if m.healthy == false then all_healthy = false end
  end
  -- The RTO is only reached when every machine's health checks passed.
  if up and all_healthy and result ~= "failed" and last_health then s.rto = last_health - started end
  local rpo
  for _, m in pairs(s.machines) do
    for _, p in pairs(m.points or {}) do rpo = math.max(rpo or 0, p.age or 0) end
  end
  s.rpo = rpo
  M.annotations(s, job)
  if s.objectives.rto then s.rto_met = s.rto ~= nil and s.rto <= s.objectives.rto end
  if s.objectives.rpo and rpo then s.rpo_met = rpo <= s.objectives.rpo end
  return s
end

-- What people and steps added to the facts: warnings and errors steps
-- logged, observations (drill --note, job ID note) and sign-offs.
function M.annotations(s, job)
  s.messages = json.array(util.copy(job.messages or {}))
  s.notes = json.array(util.copy(job.notes or {}))
  s.signoffs = json.array(util.copy(job.signoffs or {}))
  return s
end

local entities = { ["&"] = "&amp;", ["<"] = "&lt;", [">"] = "&gt;", ['"'] = "&quot;", ["'"] = "&#39;" }
local function esc(x)
  x = tostring(x)
  if not x:find("[&<>\"']") then return x end
  return (x:gsub("[&<>\"']", entities))
end

local function verdict(met) if met == nil then return "-" end return met and "met" or "MISSED" end

-- Text people or steps gave, in a Markdown list item: on one line, and
-- neither HTML nor Markdown that could start a section of its own.
local function md(x)
  return (tostring(x):gsub("[%c]", " "):gsub("[&<>]", entities):gsub("([\\`*_%[%]#|])", "\\%1"))
end

local function markdown(s)
  local L = {}
  local function add(fmt, ...) L[#L + 1] = string.format(fmt, ...) end
  add("# %s of %s: %s", s.op, s.plan, s.result)
  add("")
  add("Job `%s`, %s to %s UTC.", s.job, util.iso(s.started), util.iso(s.ended))
  if s.error then add(""); add("**Error:** %s", s.error) end
  add("")
  add("| objective | target | reached | verdict |")
  add("|---|---|---|---|")
  add("| RTO (until every machine was healthy) | %s | %s | %s |", util.fmt_duration(s.objectives.rto),
    s.rto and util.fmt_duration(s.rto) or "not reached", verdict(s.rto_met))
  add("| RPO (oldest point used) | %s | %s | %s |", util.fmt_duration(s.objectives.rpo),
    s.rpo and util.fmt_duration(s.rpo) or "-", verdict(s.rpo_met))
  add("")
  add("## Machines")
  add("")
  add("| machine | group | healthy | points used |")
  add("|---|---|---|---|")
  for _, name in ipairs(util.sorted_keys(s.machines)) do
    local m = s.machines[name]
    local pts = {}
    for _, ds in ipairs(util.sorted_keys(m.points or {})) do
      local p = m.points[ds]
      pts[#pts + 1] = string.format("%s: %s (%s, %s old)", ds, p.point, p.consistency, util.fmt_duration(p.age))
    end
    add("| %s | %s | %s | %s |", name, m.group or "", m.healthy == nil and "-" or (m.healthy and "yes" or "no"),
      #pts > 0 and table.concat(pts, "; ") or "-")
  end
  add("")
  add("## Groups")
  add("")
  add("| group | duration | result |")
  add("|---|---|---|")
  for _, g in ipairs(s.groups) do add("| %s | %s | %s |", g.name, util.fmt_duration(g.secs), g.failed and "failed" or "ok") end
  add("")
  add("## Steps")
  add("")
  add("| step | what | state | duration | note |")
  add("|---|---|---|---|---|")
  for _, e in ipairs(s.steps) do
    add("| %s | %s | %s | %s | %s |", e.id, (e.title or ""):gsub("|", "\\|"), e.state, util.fmt_duration(e.secs),
      (e.error or ""):gsub("|", "\\|"):gsub("\n", " "))
  end
  local any = false
  for _, e in ipairs(s.steps) do
    for _, ev in ipairs(e.evidence or {}) do
      if not any then add(""); add("## Health evidence"); add(""); any = true end
      add("- %s: %s %s: %s after %d attempt(s), %s: %s", e.machine or e.id, ev.kind, ev.target or "",
        ev.passed and "passed" or "FAILED", ev.attempts or 0, util.fmt_duration(ev.seconds), ev.last or "")
    end
  end
  if #s.messages > 0 then
    add(""); add("## Warnings and errors logged"); add("")
    for _, m in ipairs(s.messages) do add("- %s: **%s** %s", md(m.step), md(m.level), md(m.text)) end
  end
  if #s.notes > 0 then
    add(""); add("## Observations"); add("")
    for _, n in ipairs(s.notes) do add("- %s, %s: %s", md(n.by), util.iso(n.t), md(n.text)) end
  end
  add("")
  add("## Sign-off")
  add("")
  if #s.signoffs == 0 then add("Not signed off (`lifeboat job %s sign --by NAME`).", s.job) end
  for _, x in ipairs(s.signoffs) do add("- Signed off by %s, %s", md(x.by), util.iso(x.t)) end
  return table.concat(L, "\n") .. "\n"
end

local function junit(s)
  local L = {}
  local failures, total = 0, 0
  for _, e in ipairs(s.steps) do
    total = total + 1
    if e.state == "failed" then failures = failures + 1 end
  end
  L[#L + 1] = '<?xml version="1.0" encoding="UTF-8"?>'
  L[#L + 1] = string.format('<testsuites name="lifeboat" tests="%d" failures="%d" time="%.3f">', total, failures,
    s.ended - s.started)
  L[#L + 1] = string.format('  <testsuite name="%s %s" tests="%d" failures="%d" time="%.3f" timestamp="%s">', esc(s.op),
    esc(s.plan), total, failures, s.ended - s.started, util.iso(s.started))
  for _, e in ipairs(s.steps) do
    local class = esc(s.plan .. "." .. (e.group or "job") .. (e.machine and ("." .. e.machine) or ""))
    local open = string.format('    <testcase classname="%s" name="%s" time="%.3f"', class, esc(e.id), e.secs or 0)
    if e.state == "failed" then
      L[#L + 1] = open .. ">"
      L[#L + 1] = string.format('      <failure message="%s">%s</failure>', esc(e.error or "failed"), esc(e.error or ""))
      L[#L + 1] = "    </testcase>"
    elseif e.state ~= "done" then
      L[#L + 1] = open .. ">"
      L[#L + 1] = string.format('      <skipped message="%s"/>', esc(e.state or "not run"))
      L[#L + 1] = "    </testcase>"
    else
      L[#L + 1] = open .. "/>"
    end
  end
  L[#L + 1] = "  </testsuite>"
  L[#L + 1] = "</testsuites>"
  return table.concat(L, "\n") .. "\n"
end

local colors = { done = "#2e7d32", failed = "#c62828", cancelled = "#ef6c00", waiting = "#f9a825", skipped = "#9e9e9e" }

-- One bar per step, rows in run order, labelled with the step id.
local function timeline(s)
  local rows = {}
  for _, e in ipairs(s.steps) do if e.started then rows[#rows + 1] = e end end
  local t0, t1 = s.started, s.ended
  for _, e in ipairs(rows) do t1 = math.max(t1, e.ended or e.started) end
  local span = math.max(t1 - t0, 0.001)
  local label_w, bar_w, row_h = 260, 640, 18
  local h = #rows * row_h + 40
  local L = { string.format('<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" role="img" aria-label="timeline">',
    label_w + bar_w + 20, h, label_w + bar_w + 20, h) }
  for i = 0, 4 do
    local x = label_w + bar_w * i / 4
    L[#L + 1] = string.format('<line x1="%.1f" y1="0" x2="%.1f" y2="%d" stroke="#ddd"/><text x="%.1f" y="%d" font-size="10" fill="#666">%s</text>',
      x, x, h - 20, x + 2, h - 6, util.fmt_duration(span * i / 4))
  end
  local prev_group
  for i, e in ipairs(rows) do
    local y = (i - 1) * row_h + 4
    if e.group ~= prev_group then
      L[#L + 1] = string.format('<line x1="0" y1="%d" x2="%d" y2="%d" stroke="#999"/>', y - 2, label_w + bar_w, y - 2)
      prev_group = e.group
    end
    local x = label_w + bar_w * (e.started - t0) / span
    local w = math.max(2, bar_w * ((e.ended or t1) - e.started) / span)
    local id = esc(e.id)
    L[#L + 1] = string.format('<text x="4" y="%d" font-size="11" font-family="monospace">%s</text>', y + 11, id)
    L[#L + 1] = string.format('<rect class="bar" x="%.1f" y="%d" width="%.1f" height="%d" fill="%s"><title>%s: %s, %s</title></rect>',
      x, y, w, row_h - 5, colors[e.state] or "#607d8b", id, e.state, util.fmt_duration(e.secs))
  end
  L[#L + 1] = "</svg>"
  return table.concat(L, "\n")
end

local function annotations_html(s)
  local L = {}
  local function items(title, list, fmt)
    if #list == 0 then return end
    L[#L + 1] = (title and ("<h2>" .. title .. "</h2>") or "") .. "<ul>"
    for _, x in ipairs(list) do L[#L + 1] = "<li>" .. fmt(x) .. "</li>" end
    L[#L + 1] = "</ul>"
  end
  items("Warnings and errors logged", s.messages, function(m)
    return string.format('<code>%s</code>: <b class="%s">%s</b> %s', esc(m.step), esc(m.level), esc(m.level), esc(m.text))
  end)
  items("Observations", s.notes, function(n) return string.format("%s, %s: %s", esc(n.by), util.iso(n.t), esc(n.text)) end)
  L[#L + 1] = "<h2>Sign-off</h2>"
  if #s.signoffs == 0 then L[#L + 1] = "<p>Not signed off.</p>" end
  items(nil, s.signoffs, function(x) return string.format("Signed off by <b>%s</b>, %s", esc(x.by), util.iso(x.t)) end)
  return table.concat(L, "\n")
end

local function html(s)
  local md_rows = {}
  for _, e in ipairs(s.steps) do
    md_rows[#md_rows + 1] = string.format("<tr class=\"%s\"><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td></tr>",
      e.state, esc(e.id), esc(e.title or ""), e.state, util.fmt_duration(e.secs), esc(e.error or ""))
  end
  local mrows = {}
  for _, name in ipairs(util.sorted_keys(s.machines)) do
    local m = s.machines[name]
    local pts, ev = {}, {}
    for _, ds in ipairs(util.sorted_keys(m.points or {})) do
      local p = m.points[ds]
      pts[#pts + 1] = esc(string.format("%s: %s (%s, %s old)", ds, p.point, p.consistency, util.fmt_duration(p.age)))
    end
    for _, x in ipairs(m.evidence or {}) do
      ev[#ev + 1] = esc(string.format("%s %s: %s in %d attempt(s): %s", x.kind, x.target or "", x.passed and "passed" or "FAILED",
        x.attempts or 0, x.last or ""))
    end
    mrows[#mrows + 1] = string.format("<tr><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td></tr>", esc(name),
      esc(m.group or ""), m.healthy == nil and "-" or (m.healthy and "yes" or "<b>no</b>"), table.concat(pts, "<br>"),
      table.concat(ev, "<br>"))
  end
  local function obj(label, target, reached, met)
    return string.format('<div class="obj %s"><div class="k">%s</div><div class="v">%s</div><div class="t">target %s: %s</div></div>',
      met == nil and "" or (met and "met" or "missed"), label, reached, util.fmt_duration(target), verdict(met))
  end
  return table.concat({
    "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
    string.format("<title>%s of %s: %s</title>", esc(s.op), esc(s.plan), esc(s.result)),
    "<style>body{font-family:system-ui,sans-serif;margin:24px;color:#222}h1{font-size:22px}",
    ".objs{display:flex;gap:16px;margin:16px 0}.obj{border:1px solid #ccc;border-radius:6px;padding:10px 16px;min-width:180px}",
    ".obj .v{font-size:26px;font-weight:600}.obj.met{border-color:#2e7d32;background:#e8f5e9}.obj.missed{border-color:#c62828;background:#ffebee}",
    "table{border-collapse:collapse;margin:12px 0}td,th{border:1px solid #ddd;padding:4px 8px;font-size:13px;text-align:left;vertical-align:top}",
    "tr.failed td{background:#ffebee}.result-done{color:#2e7d32}.result-failed{color:#c62828}</style></head><body>",
    string.format('<h1>%s of <code>%s</code>: <span class="result-%s">%s</span></h1>', esc(s.op), esc(s.plan), esc(s.result), esc(s.result)),
    string.format("<p>Job <code>%s</code>, %s &ndash; %s UTC%s</p>", esc(s.job), util.iso(s.started), util.iso(s.ended),
      s.error and ("<br><b>Error:</b> " .. esc(s.error)) or ""),
    '<div class="objs">', obj("RTO reached", s.objectives.rto, s.rto and util.fmt_duration(s.rto) or "not reached", s.rto_met),
    obj("RPO (oldest point)", s.objectives.rpo, s.rpo and util.fmt_duration(s.rpo) or "-", s.rpo_met), "</div>",
    "<h2>Timeline</h2>", timeline(s),
    "<h2>Machines</h2><table><tr><th>machine</th><th>group</th><th>healthy</th><th>points used</th><th>health evidence</th></tr>",
    table.concat(mrows, "\n"), "</table>",
    "<h2>Steps</h2><table><tr><th>step</th><th>what</th><th>state</th><th>duration</th><th>error</th></tr>",
    table.concat(md_rows, "\n"), "</table>", annotations_html(s), "</body></html>" }, "\n") .. "\n"
end

-- The reports of a finished job again, with the notes and sign-offs its
-- journal holds now; nil when it has none.
function M.refresh(job)
  local text = core.fs.read(job.dir .. "/report.json")
  local s = text and json.decode(text)
  if type(s) ~= "table" then return nil end
  s.steps, s.groups = json.array(s.steps or {}), json.array(s.groups or {})
  return M.write(job, nil, M.annotations(s, job))
end

-- Writes the reports of a drill, failover or failback; returns their paths.
function M.write(job, plan, s)
  if not operations.get(job.op).brings_up or not job.dir then return {} end
  -- secrets out before any escaping (an escaped secret would not match),
  -- then the text once more for their encoded forms
  s = secrets.redact_value(s)
  local files = {
    { "report.json", json.encode(s, true) .. "\n" },
    { "report.md", markdown(s) },
    { "junit.xml", junit(s) },
    { "report.html", html(s) },
  }
  local out = {}
  for _, f in ipairs(files) do
    local path = job.dir .. "/" .. f[1]
    local ok, e = core.fs.write(path, secrets.redact(f[2]))
    if not ok then error(e, 0) end
    out[#out + 1] = path
  end
  return out
end

return M
