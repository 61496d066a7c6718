-- import_asr.lua: an Azure Site Recovery recovery plan (the resource the
-- REST API and `az site-recovery recovery-plan show` return) as a lifeboat
-- plan. convert(doc) -> YAML text, notes | nil, why. The notes say what
-- could not be carried over; they are comments in the plan too.
local util = require("lifeboat.util")

local M = {}

-- ASR failover types -> the lifeboat operation they are. Directions
-- narrow failovers (back to the primary is failback) and drills.
local TYPES = {
  TestFailover = { op = "drill" },
  TestFailoverCleanup = { op = "cleanup" },
  PlannedFailover = { op = "failover", planned = true },
  UnplannedFailover = { op = "failover", planned = false },
  Failback = { op = "failback" },
  Commit = { op = "commit" },
  ReverseReplicate = { op = "reprotect" },
}
local DIRECTIONS = { PrimaryToRecovery = "to-recovery", RecoveryToPrimary = "to-primary" }
local OP_ORDER = { "drill", "cleanup", "failover", "failback", "commit", "reprotect" }

-- Input text: a string (a number as its digits), else nil: a value of
-- another type counts as missing, never as its Lua address.
local function text(v)
  if type(v) == "string" then return v end
  if math.type(v) == "integer" then return tostring(v) end
  return nil
end

-- A lifeboat name from an ASR one: letters, digits, '_', '.', '-'.
local function name_of(s, fallback)
  s = (text(s) or ""):gsub("[^%w_.-]+", "-"):gsub("^[^%w]+", ""):gsub("%-+$", "")
  if s == "" then return fallback end
  return s:sub(1, 63)
end

-- Code points a YAML double-quoted scalar must escape, or that would end a
-- line (YAML reads CR, NEL, LS and PS as line breaks too).
local function unsafe(c)
  return c < 0x20 or c == 0x7f or (c >= 0x80 and c <= 0x9f) or c == 0x2028 or c == 0x2029 or c == 0xfeff or
    c == 0xfffe or c == 0xffff
end

local function escaped(s)
  local out = {}
  for _, c in utf8.codes(s) do
    if c == 0x22 then out[#out + 1] = '\\"'
    elseif c == 0x5c then out[#out + 1] = "\\\\"
    elseif unsafe(c) then out[#out + 1] = string.format("\\u%04x", c)
    else out[#out + 1] = utf8.char(c) end
  end
  return table.concat(out)
end

-- A YAML double-quoted scalar holding s exactly, with '${{' kept as text
-- rather than read as an expression. (The input was checked to be UTF-8.)
local function q(s)
  s = text(s) or ""
  local parts, pos = {}, 1
  while true do
    local at = s:find("${{", pos, true)
    parts[#parts + 1] = escaped(s:sub(pos, at and at - 1 or -1))
    if not at then break end
    pos = at + 3
  end
  return '"' .. table.concat(parts, "${{ '${{' }}") .. '"'
end

-- s on one line, for a comment: what could end the line becomes a space.
local function one_line(s)
  local out = {}
  for _, c in utf8.codes(text(s) or "") do out[#out + 1] = unsafe(c) and " " or utf8.char(c) end
  return table.concat(out)
end

local MAX_SECONDS = 1000000000

-- ISO 8601 ("PT1H30M", "P1D"), TimeSpan ("01:30:00") or seconds -> "5400s";
-- nil when unreadable or over 10^9 s.
local function duration(v)
  local total
  if math.type(v) == "integer" then total = v
  elseif type(v) ~= "string" then return nil
  elseif v:match("^%d+$") then total = tonumber(v)
  elseif v:match("^%d+:%d%d:%d%d$") then
    local h, m, sec = v:match("^(%d+):(%d%d):(%d%d)$")
    total = tonumber(h) * 3600 + tonumber(m) * 60 + tonumber(sec)
  else
    local days, clock = v:match("^P(%d*)D?T?([%dHMS]*)$")
    if not days or (days == "" and clock == "") or (days ~= "" and not v:match("^P%d+D")) then return nil end
    total = (tonumber(days) or 0) * 86400
    for n, unit in clock:gmatch("(%d+)([HMS])") do total = total + tonumber(n) * ({ H = 3600, M = 60, S = 1 })[unit] end
    if clock:gsub("%d+[HMS]", "") ~= "" then return nil end
  end
  if not total or total <= 0 or total > MAX_SECONDS or total ~= math.floor(total) then return nil end
  return string.format("%ds", math.tointeger(total))
end

local function list_of(v) return type(v) == "table" and v or {} end

-- The `only:` lists an ASR action needs (more than one when a single list
-- cannot say it: a planned-only failover besides a drill, say), each a
-- list of words; notes collects what does not carry over.
local function filters(action, where, notes)
  local dirs = {}
  for _, d in ipairs(list_of(action.failoverDirections)) do
    if DIRECTIONS[d] then dirs[DIRECTIONS[d]] = true
    else notes[#notes + 1] = string.format("%s: unknown failover direction '%s' left out", where, text(d) or "?") end
  end
  if next(dirs) == nil then dirs = { ["to-recovery"] = true, ["to-primary"] = true } end
  local ops, flavours = {}, {}
  for _, t in ipairs(list_of(action.failoverTypes)) do
    local m = TYPES[t]
    if not m then
      notes[#notes + 1] = string.format("%s: failover type '%s' has no lifeboat operation; left out", where, text(t) or "?")
    elseif m.op == "failover" then
      -- a failover towards the primary is lifeboat's failback, which is always planned
      if dirs["to-recovery"] then ops.failover = true; flavours[m.planned and "planned" or "unplanned"] = true end
      if dirs["to-primary"] then
        ops.failback = true
        if not m.planned then
          notes[#notes + 1] = string.format("%s: an unplanned failover back to the primary runs in failback, " ..
            "which is always planned here", where)
        end
      end
    else
      ops[m.op] = true
    end
  end
  if next(ops) == nil then return {} end
  local out = {}
  -- a failover of one flavour only needs planned/unplanned, which would
  -- keep every other operation out: it gets a list of its own
  if ops.failover and not (flavours.planned and flavours.unplanned) then
    out[#out + 1] = { "failover", flavours.planned and "planned" or "unplanned" }
    ops.failover = nil
  end
  -- so does a direction, for drills and cleanups one way only
  local dir_word = not (dirs["to-recovery"] and dirs["to-primary"]) and next(dirs) or nil
  local either, fixed = {}, {}
  for _, op in ipairs(OP_ORDER) do
    if ops[op] then table.insert((op == "drill" or op == "cleanup") and either or fixed, op) end
  end
  if dir_word and #either > 0 then
    either[#either + 1] = dir_word
    out[#out + 1] = either
    either = {}
  end
  for _, op in ipairs(fixed) do either[#either + 1] = op end
  if #either > 0 then out[#out + 1] = either end
  return out
end

-- One ASR action as the lines of lifeboat actions (one per filter), and
-- the secret it needs, if any.
local function action_lines(action, where, notes, plan_name, group_name, secrets_needed)
  if type(action) ~= "table" then
    notes[#notes + 1] = where .. ": not an action object; left out"
    return {}
  end
  local d = type(action.customDetails) == "table" and action.customDetails or {}
  local kind = text(d.instanceType)
  local label = text(action.actionName) or kind or "action"
  local body, comment = {}, {}
  local timeout = d.timeout and duration(d.timeout)
  if d.timeout and not timeout then
    notes[#notes + 1] = string.format("%s: timeout '%s' not understood (or over 10^9 s); the default applies", where,
      text(d.timeout) or type(d.timeout))
  end
  if kind == "ScriptActionDetails" then
    local path = text(d.path) or ""
    if path == "" then notes[#notes + 1] = where .. ": a script action without a path; left out"; return {} end
    comment[#comment + 1] = string.format("ASR ran this script on the %s fabric; check it runs on this host",
      text(d.fabricLocation) or "?")
    if path:match("\\") or path:match("%.ps1$") then
      notes[#notes + 1] = string.format("%s: script %s is a Windows path; replace it with a command of this host", where, path)
    end
    body[#body + 1] = "exec: [" .. q(path) .. "]"
  elseif kind == "AutomationRunbookActionDetails" then
    local runbook = text(d.runbookId) or ""
    local base = "RUNBOOK_" .. name_of(runbook:match("([^/]+)$") or label, "ACTION"):upper():gsub("[^%w]", "_")
    local secret, n = base .. "_WEBHOOK", 1
    -- one secret per runbook: another runbook of the same name gets its own
    while secrets_needed[secret] and secrets_needed[secret] ~= runbook do
      n = n + 1
      secret = base .. "_" .. n .. "_WEBHOOK"
    end
    secrets_needed[secret] = runbook
    comment[#comment + 1] = "FILL IN: the Azure Automation runbook " .. runbook
    comment[#comment + 1] = "is called through a webhook of it: set the secret " .. secret .. " to the webhook's URL"
    body[#body + 1] = 'http: "${{ secret.' .. secret .. ' }}"'
    body[#body + 1] = "method: POST"
    body[#body + 1] = "headers: { Content-Type: application/json }"
    -- what ASR hands a runbook (its RecoveryPlanContext), as far as lifeboat knows it
    body[#body + 1] = "body: { RecoveryPlanName: " .. q(plan_name) .. ", FailoverType: \"${{ job.op }}\", " ..
      "GroupId: " .. q(group_name) .. ", JobId: \"${{ job.id }}\" }"
  elseif kind == "ManualActionDetails" then
    local said = text(d.description)
    body[#body + 1] = "manual: " .. q(said and said ~= "" and said or label)
    timeout = nil -- a manual step waits for a person; ASR's has no timeout either
  else
    notes[#notes + 1] = string.format("%s: action '%s' of type '%s' has no lifeboat equivalent; left out", where,
      label, kind or "?")
    return {}
  end
  local lists = filters(action, where, notes)
  if #lists == 0 then
    notes[#notes + 1] = string.format("%s: action '%s' runs in no operation lifeboat has; left out", where, label)
    return {}
  end
  local lines = {}
  for _, c in ipairs(comment) do lines[#lines + 1] = "# " .. one_line(c) end
  if #lists > 1 then lines[#lines + 1] = "# (one ASR action, written once per kind of operation it runs in)" end
  for _, only in ipairs(lists) do
    lines[#lines + 1] = "- name: " .. q(label)
    for _, b in ipairs(body) do lines[#lines + 1] = "  " .. b end
    if timeout then lines[#lines + 1] = "  timeout: " .. timeout end
    lines[#lines + 1] = "  only: [" .. table.concat(only, ", ") .. "]"
  end
  return lines
end

local function indent(lines, n)
  local pad = string.rep(" ", n)
  local out = {}
  for _, l in ipairs(lines) do out[#out + 1] = pad .. l end
  return out
end

-- The recovery plan inside what was read: the resource itself, or a list
-- ({"value": [...]}) of exactly one.
local function find_plan(doc)
  if type(doc) ~= "table" then return nil, "not a recovery plan: the JSON is not an object" end
  if type(doc.value) == "table" and doc.properties == nil then
    if #doc.value ~= 1 then
      return nil, string.format("the file lists %d recovery plans; import one (e.g. jq '.value[0]')", #doc.value)
    end
    doc = doc.value[1]
  end
  local props = type(doc) == "table" and doc.properties
  if type(props) ~= "table" or type(props.groups) ~= "table" then
    return nil, "not a recovery plan: no properties.groups (expected the resource that " ..
      "'az site-recovery recovery-plan show' prints)"
  end
  if doc.type ~= nil and not (text(doc.type) or ""):find("replicationRecoveryPlans", 1, true) then
    return nil, string.format("not a recovery plan: its type is '%s'", one_line(text(doc.type) or type(doc.type)))
  end
  return doc
end

function M.convert(doc)
  local rp, why = find_plan(doc)
  if not rp then return nil, why end
  local props = rp.properties
  local plan_name = name_of(props.friendlyName or rp.name, "asr-plan")
  local notes, secrets_needed = {}, {}
  local machines, machine_order, groups, pre = {}, {}, {}, {}
  local seen, next_n = {}, {}
  local boot_n = 0
  for gi, g in ipairs(props.groups) do
    local gt = type(g) == "table" and g.groupType
    local where = string.format("properties.groups[%d] (%s)", gi - 1, one_line(text(gt) or type(gt)))
    if gt ~= "Shutdown" and gt ~= "Failover" and gt ~= "Boot" then
      return nil, where .. ": groupType must be Shutdown, Failover or Boot"
    end
    local gname = gt == "Boot" and ("group-" .. (boot_n + 1)) or nil
    local function acts(key)
      local lines = {}
      for ai, a in ipairs(list_of(g[key])) do
        for _, l in ipairs(action_lines(a, string.format("%s.%s[%d]", where, key, ai - 1), notes, plan_name,
          gname or "group-1", secrets_needed)) do lines[#lines + 1] = l end
      end
      return lines
    end
    if gt == "Boot" then
      boot_n = boot_n + 1
      local members = {}
      for ii, item in ipairs(list_of(g.replicationProtectedItems)) do
        local id = type(item) == "table" and (text(item.id) or text(item.virtualMachineId)) or ""
        if id == "" then
          notes[#notes + 1] = string.format("%s.replicationProtectedItems[%d]: no id; left out", where, ii - 1)
        else
          local base = name_of(id:match("([^/]+)/*$"), "machine-" .. (#machine_order + 1))
          local name, n = base, next_n[base] or 1
          while seen[name] do n = n + 1; name = base .. "-" .. n end
          seen[name], next_n[base] = true, n
          machines[name] = { id = id }
          machine_order[#machine_order + 1] = name
          members[#members + 1] = name
        end
      end
      groups[#groups + 1] = { name = gname, machines = members, before = acts("startGroupActions"),
        after = acts("endGroupActions") }
    else
      -- before anything comes up: lifeboat shuts the primary down first,
      -- so these run after the shutdown (ASR ran Shutdown's start actions before it)
      for _, key in ipairs({ "startGroupActions", "endGroupActions" }) do
        local lines = acts(key)
        if #lines > 0 then
          if gt == "Shutdown" and key == "startGroupActions" then
            notes[#notes + 1] = where .. ": its start actions run after the primary's machines are down " ..
              "(before the first group comes up), not before the shutdown"
          end
          pre[#pre + 1] = "# from the " .. gt .. " group's " .. key
          for _, l in ipairs(lines) do pre[#pre + 1] = l end
        end
      end
    end
  end
  if #machine_order == 0 then return nil, "the recovery plan protects no machine (no Boot group lists one)" end
  -- a lifeboat group has machines: an empty Boot group's actions run
  -- before the next group that has some (after the last one at the end)
  local kept, carry = {}, pre
  for _, g in ipairs(groups) do
    if #g.machines == 0 then
      if #g.before + #g.after > 0 then
        notes[#notes + 1] = string.format("Boot group %s protects no machine: its actions run with the next group",
          g.name:match("%d+"))
        carry[#carry + 1] = "# from the empty " .. g.name
      end
      for _, key in ipairs({ "before", "after" }) do
        for _, l in ipairs(g[key]) do carry[#carry + 1] = l end
      end
    else
      for _, l in ipairs(g.before) do carry[#carry + 1] = l end
      g.before, carry = carry, {}
      kept[#kept + 1] = g
    end
  end
  for _, l in ipairs(carry) do table.insert(kept[#kept].after, l) end
  groups = kept

  local y = {}
  local function add(s) y[#y + 1] = s end
  add("# Imported from the Azure Site Recovery recovery plan " .. one_line(text(rp.id) or text(rp.name) or plan_name))
  add("# by 'lifeboat import asr'. Machines are named after the protected items, the")
  add("# Boot groups are the groups in order; ASR's failover types and directions are")
  add("# each action's only: list (see docs/plans.md).")
  add("#")
  add("# FILL IN: the sites run on paper (provider noop) until you give them a")
  add("# provider (local, qemu or ssh) and each machine its datasets.")
  if next(secrets_needed) then
    add("# FILL IN: the secrets " .. table.concat(util.sorted_keys(secrets_needed), ", ") ..
      " (runbook webhooks; jobs refuse to start until they are set).")
  end
  if #notes > 0 then
    add("#")
    add("# Not carried over:")
    for _, n in ipairs(notes) do add("#   " .. one_line(n)) end
  end
  add("lifeboat: 1")
  add("name: " .. q(plan_name))
  add("description: " .. q(string.format("Imported from ASR: %s -> %s",
    text(props.primaryFabricFriendlyName) or text(props.primaryFabricId) or "primary",
    text(props.recoveryFabricFriendlyName) or text(props.recoveryFabricId) or "recovery")))
  add("")
  add("sites:")
  add("  primary: { provider: noop }")
  add("  recovery: { provider: noop }")
  add("  drill: { provider: noop }")
  add("")
  add("machines:")
  for _, name in ipairs(machine_order) do
    local m = machines[name]
    add("  " .. q(name) .. ":")
    add("    description: " .. q("ASR protected item " .. m.id))
  end
  add("")
  add("groups:")
  for _, g in ipairs(groups) do
    add("  - name: " .. g.name)
    local quoted = {}
    for _, m in ipairs(g.machines) do quoted[#quoted + 1] = q(m) end
    add("    machines: [" .. table.concat(quoted, ", ") .. "]")
    for _, key in ipairs({ "before", "after" }) do
      if #g[key] > 0 then
        add("    " .. key .. ":")
        for _, l in ipairs(indent(g[key], 6)) do add(l) end
      end
    end
  end
  return table.concat(y, "\n") .. "\n", notes
end

return M
