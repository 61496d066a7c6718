-- plan.lua: loads a plan file and checks it. load() returns the plan, or
-- nil and every problem found, each {line, col, msg}, in file order.
local operations = require("lifeboat.operations")
local schema = require("lifeboat.schema")
local util = require("lifeboat.util")

local M = {}

-- Where the module behind `uses: NAME` (kind "actions") or a site's
-- provider (kind "providers") is: a file beside the plan (an action named
-- "./x.lua", a provider in providers/NAME.lua, which wins over stdlib's) or
-- stdlib. Returns {path = FILE} or {stdlib = MODULE}, or nil.
function M.find_module(plan_dir, kind, name)
  local path
  if kind == "actions" and (name:sub(1, 2) == "./" or name:sub(1, 3) == "../") then
    path = util.join(plan_dir, name)
  elseif kind == "providers" and name:match("^[%w_]+$") then
    path = util.join(plan_dir, "providers/" .. name .. ".lua")
  end
  if path and core.fs.stat(path) then return { path = path } end
  local valid = kind == "actions" and "^[%w_]+[%w_.]*$" or "^[%w_]+$"
  if name:match(valid) and core.stdlib(kind .. "." .. name) then return { stdlib = kind .. "." .. name } end
  return nil
end

-- The module itself: stdlib's are trusted, a plan's own run in the
-- sandbox. Each is found and loaded once (steps ask for their provider often).
local modules = {}
function M.load_module(plan_dir, kind, name)
  local key = plan_dir .. "\0" .. kind .. "\0" .. name
  if modules[key] ~= nil then return modules[key] end
  local where = M.find_module(plan_dir, kind, name)
  if not where then error(string.format("unknown %s '%s'", kind == "actions" and "action" or "provider", name), 0) end
  local m
  if where.stdlib then m = require(where.stdlib)
  else
    local src, e = core.fs.read(where.path)
    if not src then error(e, 0) end
    m = require("lifeboat.sandbox").module(src, "@" .. where.path, plan_dir, kind)
  end
  if kind == "providers" then
    local why = require("lifeboat.provider").check(name, m)
    if why then error(why, 0) end
  end
  modules[key] = m
  return m
end

local function at(ctx, node, fmt, ...) schema.err(ctx, node or { line = 0, col = 0 }, fmt, ...) end

-- Why an `only:` list names an operation that can never match its other
-- words (nil when each can): planned/unplanned narrow the operations whose
-- record says whether they are planned, directions those that always go
-- one way. With no operation named, one of those where machines come up
-- must match.
local function only_never_matches(only)
  local ops, plans, dirs = {}, {}, {}
  for _, v in ipairs(only) do
    if v == "planned" or v == "unplanned" then plans[#plans + 1] = v
    elseif v == "to-recovery" or v == "to-primary" then dirs[#dirs + 1] = v
    else ops[#ops + 1] = v end
  end
  local function why_not(op)
    local rec = operations.get(op)
    if #plans > 0 then
      if not rec.planned then return string.format("'%s' is never planned or unplanned", op) end
      local can = { planned = rec.planned({ planned = true }), unplanned = rec.planned({}) == false }
      if not can[plans[1]] and not can[plans[2] or plans[1]] then
        return string.format("'%s' is never %s", op, table.concat(plans, " or "))
      end
    end
    local there, back = rec.direction({ active = "primary" }), rec.direction({ active = "recovery" })
    if #dirs > 0 and there == back and not util.contains(dirs, there) then
      return string.format("'%s' always goes %s", op, there)
    end
  end
  if #ops == 0 then
    for _, op in ipairs(schema.action_ops) do
      if not why_not(op) then return nil end
    end
    return "no operation where machines come up fits all of " .. table.concat(only, ", ") .. ", so the action would never run"
  end
  for _, op in ipairs(ops) do
    local why = why_not(op)
    if why then return string.format("%s, so the action would never run in %s jobs", why, op) end
  end
  return nil
end

local function check_actions(ctx, plan, list, what)
  for i, a in ipairs(list or {}) do
    local node = ctx.pos[a]
    local function here(key) local k = ctx.seen[a] and ctx.seen[a][key]; return k or node end
    if a.kind == "script" and type(a.script) == "string" then
      local path = util.join(plan.dir, a.script)
      local src, e = core.fs.read(path)
      if not src then
        at(ctx, here("script"), "%s[%d]: cannot read script %s: %s", what, i, a.script, e:match(": ([^:]+)$") or e)
      else
        local _, lerr = load(src, "@" .. a.script, "t", {})
        if lerr then at(ctx, here("script"), "%s[%d]: Lua syntax error in %s", what, i, lerr) end
      end
    elseif a.kind == "uses" and type(a.uses) == "string" then
      if not M.find_module(plan.dir, "actions", a.uses) then
        at(ctx, here("uses"), "%s[%d]: unknown action '%s' (stdlib actions: %s)", what, i, a.uses,
          table.concat(M.stdlib_actions(), ", "))
      else
        local ok, mod = pcall(M.load_module, plan.dir, "actions", a.uses)
        if not ok then at(ctx, here("uses"), "%s[%d]: action '%s' does not load: %s", what, i, a.uses, mod)
        elseif type(mod) == "table" and mod.check and ((a.with == nil and not here("with")) or type(a.with) == "table") then
          -- (a `with` that is no mapping is the schema's to report)
          local problem = mod.check(a.with or {})
          if problem then at(ctx, here("with") or here("uses"), "%s[%d]: %s: %s", what, i, a.uses, problem) end
        end
      end
    elseif a.kind == "manual" and a.on_timeout and not a.timeout then
      at(ctx, here("on_timeout"), "%s[%d]: on_timeout needs a timeout", what, i)
    end
    local never = type(a.only) == "table" and only_never_matches(a.only)
    if never then at(ctx, here("only"), "%s[%d].only: %s", what, i, never) end
  end
end

-- The actions stdlib has (from LIFEBOAT_STDLIB when set, else embedded).
function M.stdlib_actions()
  local names = {}
  for _, n in ipairs(util.stdlib_modules("actions")) do names[#names + 1] = n:sub(9) end
  return names
end

local function check_machines(ctx, plan)
  local raw = plan.raw
  local group_of, group_names = {}, {}
  for gi, g in ipairs(raw.groups or {}) do
    local gnode = ctx.pos[g]
    if g.name then
      if group_names[g.name] then at(ctx, ctx.seen[g].name, "duplicate group '%s'", g.name) end
      group_names[g.name] = true
    end
    local mlist = g.machines or {}
    local lnode = ctx.pos[mlist] or gnode
    if #mlist == 0 and g.machines then at(ctx, lnode, "group '%s' has no machines", g.name or gi) end
    for i, name in ipairs(mlist) do
      local node = lnode[i] or lnode
      if type(name) ~= "string" then
      elseif not (raw.machines or {})[name] then
        local near = util.nearest(name, plan.machine_order)
        at(ctx, node, "group '%s': undefined machine '%s'%s", g.name or gi, name,
          near and (", did you mean '" .. near .. "'?") or "")
      elseif group_of[name] then
        at(ctx, node, "machine '%s' is in group '%s' and in group '%s'", name, group_of[name].name or "?", g.name or gi)
      else
        group_of[name] = { name = g.name, index = gi }
      end
    end
    check_actions(ctx, plan, g.before, "group '" .. tostring(g.name) .. "' before")
    check_actions(ctx, plan, g.after, "group '" .. tostring(g.name) .. "' after")
  end
  for _, name in ipairs(plan.machine_order) do
    local m = raw.machines[name]
    if raw.groups and not group_of[name] then at(ctx, ctx.keypos[m], "machine '%s' is in no group", name) end
    local seen = {}
    for _, d in ipairs(m.datasets or {}) do
      if d.name and seen[d.name] then at(ctx, ctx.pos[d], "machine '%s': duplicate dataset '%s'", name, d.name) end
      if d.name then seen[d.name] = true end
    end
    local deps = m.depends_on or {}
    for i, dep in ipairs(deps) do
      local node = (ctx.pos[deps] or {})[i] or ctx.pos[deps]
      if not raw.machines[dep] then
        at(ctx, node, "machine '%s' depends on undefined machine '%s'", name, dep)
      elseif dep == name then
        at(ctx, node, "machine '%s' depends on itself", name)
      elseif group_of[name] and group_of[dep] and group_of[dep].index > group_of[name].index then
        at(ctx, node, "machine '%s' depends on '%s', which comes up in a later group ('%s')", name, dep,
          group_of[dep].name)
      end
    end
    check_actions(ctx, plan, m.prepare, "machine '" .. name .. "' prepare")
  end
  -- a consistency group: machines whose points come from one replicate run
  local in_cgroup = {}
  for _, cname in ipairs(util.sorted_keys(raw.consistency_groups or {})) do
    local members = raw.consistency_groups[cname]
    local lnode = ctx.pos[members] or {}
    for i, name in ipairs(members) do
      local node = lnode[i] or lnode
      if not raw.machines[name] then
        at(ctx, node, "consistency group '%s': undefined machine '%s'", cname, name)
      elseif in_cgroup[name] == cname then
        at(ctx, node, "machine '%s' is listed twice in consistency group '%s'", name, cname)
      elseif in_cgroup[name] then
        at(ctx, node, "machine '%s' is in consistency group '%s' and in '%s'", name, in_cgroup[name], cname)
      else
        in_cgroup[name] = cname
      end
    end
  end
  -- depends_on cycles, each reported once
  local state, stack, reported = {}, {}, false
  local function visit(name)
    state[name] = "open"
    stack[#stack + 1] = name
    for _, dep in ipairs(raw.machines[name].depends_on or {}) do
      if raw.machines[dep] and dep ~= name then
        if state[dep] == "open" and not reported then
          local cycle, on = {}, false
          for _, s in ipairs(stack) do
            if s == dep then on = true end
            if on then cycle[#cycle + 1] = s end
          end
          cycle[#cycle + 1] = dep
          local m = raw.machines[name]
          at(ctx, ctx.pos[m.depends_on], "depends_on cycle: %s", table.concat(cycle, " -> "))
          reported = true
        elseif not state[dep] then
          visit(dep)
        end
      end
    end
    stack[#stack] = nil
    state[name] = "done"
  end
  for _, name in ipairs(plan.machine_order) do if not state[name] then visit(name) end end
  plan.group_of = group_of
end

local function check_sites(ctx, plan)
  local sites = plan.raw.sites
  if not sites then return end
  for _, need in ipairs({ "primary", "recovery" }) do
    if not sites[need] then at(ctx, ctx.pos[sites], "sites: missing site '%s'", need) end
  end
  for _, name in ipairs(ctx.order[sites] or {}) do
    local s = sites[name]
    if type(s.provider) == "string" and not M.find_module(plan.dir, "providers", s.provider) then
      at(ctx, ctx.seen[s] and ctx.seen[s].provider or ctx.pos[s], "site '%s': unknown provider '%s' (known: %s)",
        name, s.provider, table.concat(schema.stdlib_providers, ", "))
    end
    local fields = schema.plan.fields.sites.values.fields
    for key, node in pairs(ctx.seen[s] or {}) do
      local owner = fields[key] and fields[key].provider
      if owner and owner ~= s.provider then
        at(ctx, node, "site '%s': key '%s' is for sites of provider %s, not %s", name, key, owner, tostring(s.provider))
      end
    end
    local ok, p = pcall(M.load_module, plan.dir, "providers", s.provider)
    if not ok and type(s.provider) == "string" and M.find_module(plan.dir, "providers", s.provider) then
      at(ctx, ctx.seen[s] and ctx.seen[s].provider or ctx.pos[s], "site '%s': %s", name, tostring(p))
    end
    if ok and p.check_site then
      p.check_site(name, s, plan, function(node, fmt, ...) at(ctx, node or ctx.pos[s], fmt, ...) end, ctx)
    end
  end
end

-- load(PATH) -> plan | nil, errors, file
function M.load(path)
  local text, e = core.fs.read(path)
  if not text then return nil, { { line = 0, col = 0, msg = "cannot read the plan: " .. (e:match(": ([^:]+)$") or e) } }, path end
  return M.parse(text, path)
end

-- parse(TEXT, PATH) -> plan | nil, errors, PATH: the plan TEXT as if read
-- from PATH (relative paths in it are from PATH's folder).
function M.parse(text, path)
  local ctx = { file = path, errs = {}, pos = {}, keypos = {}, seen = {}, order = {} }
  local root, yerr = core.yaml_load(text)
  if yerr then
    return nil, { { line = yerr.line, col = yerr.col, msg = "YAML syntax error: " .. yerr.msg } }, path
  end
  if root == nil or (root.t == "s" and root.v == "") then
    return nil, { { line = 1, col = 1, msg = "the plan is empty" } }, path
  end
  local raw = schema.decoder.value(ctx, root, schema.plan, "plan")
  if type(raw) ~= "table" then
    if #ctx.errs == 0 then at(ctx, root, "a plan is a mapping (lifeboat: 1, name, machines, groups, ...)") end
    return nil, ctx.errs, path
  end
  local dir = util.dirname(path)
  local plan = {
    file = path, abs = core.fs.realpath(path) or path, dir = dir, raw = raw, name = raw.name, sha = core.sha256(text), ctx = ctx,
    machine_order = raw.machines and ctx.order[raw.machines] or {},
  }
  if raw.machines then check_machines(ctx, plan) end
  check_sites(ctx, plan)
  for _, a in ipairs(raw.alerts or {}) do
    if (a.webhook == nil) == (a.command == nil) then at(ctx, ctx.pos[a], "an alert names a webhook or a command (one of them)") end
    if a.webhook and not a.webhook:match("^https?://") then at(ctx, ctx.pos[a], "an alert's webhook is an http:// or https:// URL") end
  end
  if #ctx.errs > 0 then
    table.sort(ctx.errs, function(a, b)
      if a.line ~= b.line then return a.line < b.line end
      return a.col < b.col
    end)
    return nil, ctx.errs, path
  end
  return plan
end

function M.format_errors(file, errs)
  local lines = {}
  for _, e in ipairs(errs) do
    if e.line and e.line > 0 then
      lines[#lines + 1] = string.format("%s:%d:%d: %s", file, e.line, e.col, e.msg)
    else
      lines[#lines + 1] = string.format("%s: %s", file, e.msg)
    end
  end
  return lines
end

return M
