-- schema.lua: the plan format, written once. The loader checks plans
-- against it (decode) and `lifeboat schema` prints it as a JSON Schema
-- (json_schema), so the two cannot disagree on keys.
local util = require("lifeboat.util")
local expr = require("lifeboat.expr")

local M = {}

local function str(o) o = o or {}; o.type = "string"; return o end
local function int(o) o = o or {}; o.type = "int"; return o end
local dur = { type = "duration" }
local size = { type = "size" }
local bool = { type = "bool" }
local any = { type = "any" }
local strlist = { type = "list", items = str() }
local command = { type = "command" }
local function obj(fields, o) o = o or {}; o.type = "object"; o.fields = fields; return o end
local function list(items) return { type = "list", items = items } end
local function dict(values) return { type = "dict", values = values } end
local function enum(...) return { type = "enum", values = { ... } } end

local operations = require("lifeboat.operations")
M.ops = operations.names()
-- Where machines come up: the operations an action without `only:` runs in,
-- and the only ones a machine's prepare actions can run in.
M.action_ops = operations.bringing_up()
-- `only:` narrows by operation, by planned/unplanned and by direction
-- (towards the recovery site or back to the primary); see ops.runs_in.
M.only_qualifiers = { "planned", "unplanned", "to-recovery", "to-primary" }
local function only_spec(ops, never)
  local values = util.copy(ops)
  for _, q in ipairs(M.only_qualifiers) do values[#values + 1] = q end
  return { type = "list", items = { type = "enum", values = values, never = never } }
end
local prepare_never = "is not where machines come up: prepare runs only in " .. util.and_list(M.action_ops)
local prepare_nevers = {}
for _, op in ipairs(M.ops) do if not util.contains(M.action_ops, op) then prepare_nevers[op] = prepare_never end end

local function common(only)
  return { name = str(), only = only, timeout = dur, retries = int { min = 0, max = 20 },
    on_error = enum("abort", "continue", "pause") }
end

-- Each action is a mapping with exactly one of these keys, plus the common
-- ones and those of its kind.
M.action_kinds = {
  exec = { main = command, extra = { env = dict(str()), cwd = str() } },
  lua = { main = str { code = true } },
  script = { main = str(), extra = { args = list(str()) } },
  uses = { main = str(), extra = { with = dict(any) } },
  manual = { main = str(), extra = { on_timeout = enum("approve", "abort") } },
  http = { main = str(), extra = { method = str(), headers = dict(str()), body = any,
    expect = int { min = 100, max = 599 }, verify = bool } },
  wait = { main = dur },
}
M.action = { type = "kinds", kinds = M.action_kinds, common = common(only_spec(M.ops)), what = "action" }
M.prepare_action = { type = "kinds", kinds = M.action_kinds, what = "action",
  common = common(only_spec(M.action_ops, prepare_nevers)) }

M.health_kinds = {
  tcp = { main = str() },
  http = { main = str(), extra = { expect = int { min = 100, max = 599 }, body = str(), verify = bool } },
  exec = { main = command },
  lua = { main = str { code = true } },
}
M.health = { type = "kinds", kinds = M.health_kinds, what = "health check",
  common = { name = str(), within = dur, every = dur, timeout = dur } }

local dataset = obj({
  name = str { required = true, name = true }, kind = enum("tree", "image"),
  path = str { required = true }, block_size = size,
})

local machine = obj({
  description = str(), datasets = list(dataset), start = command, stop = command,
  prepare = list(M.prepare_action), health = list(M.health),
  quiesce = obj({ before = command, after = command, timeout = dur }),
  depends_on = strlist, vars = dict(any),
})

local site = obj({
  provider = str { required = true }, root = str(), port_offset = int { min = 0, max = 60000 },
  options = dict(any),
})

-- Providers declare their own keys of sites and machines: keys(types)
-- returns {site = {NAME = SPEC}, machine = {NAME = SPEC}}. A site key is
-- for sites of that provider only (the plan checker says so); a machine
-- key for any machine, as a machine may run on several providers.
M.types = { str = str, int = int, dur = dur, size = size, bool = bool, any = any, obj = obj, list = list,
  dict = dict, enum = enum, command = command }
M.stdlib_providers = { "local", "noop", "qemu", "ssh" }
for _, pname in ipairs(M.stdlib_providers) do
  local p = require("providers." .. pname)
  local keys = p.keys and p.keys(M.types) or {}
  for name, spec in pairs(keys.site or {}) do
    assert(not site.fields[name], "site key declared twice: " .. name)
    spec.provider = pname
    site.fields[name] = spec
  end
  for name, spec in pairs(keys.machine or {}) do
    assert(not machine.fields[name], "machine key declared twice: " .. name)
    machine.fields[name] = spec
  end
end

local group = obj({
  name = str { required = true, name = true }, machines = { type = "list", items = str(), required = true },
  before = list(M.action), after = list(M.action), max_parallel = int { min = 1 },
})

M.plan = obj({
  lifeboat = int { required = true, min = 1, max = 1 },
  name = str { required = true, name = true },
  description = str(),
  objectives = obj({ rpo = dur, rto = dur }),
  store = str(),
  encryption = obj({ key_file = str() }),
  secrets = obj({ file = str() }),
  policy = obj({ rpo_threshold = dur, retention = dur, app_consistent_every = dur, block_size = size,
    replicate_every = dur, drill_every = dur }),
  alerts = list(obj({ webhook = str(), command = command,
    events = { type = "list", items = enum("rpo_breach", "rpo_recovered", "replication_failed", "drill_overdue", "plan_invalid") } })),
  max_parallel = int { min = 1 },
  consistency_groups = { type = "dict", values = strlist, names = true },
  vars = dict(any),
  sites = { type = "dict", values = site, names = true },
  machines = { type = "dict", values = machine, required = true, names = true },
  groups = { type = "list", items = group, required = true },
})

------------------------------------------------------------------------
-- decoding YAML nodes

local describe = { s = "a scalar", q = "a list", m = "a mapping" }

local function scalar_value(node)
  local v = node.v
  if not node.plain then return v end
  if v == "" or v == "~" or v == "null" or v == "Null" or v == "NULL" then return core.null end
  if v == "true" or v == "True" or v == "TRUE" then return true end
  if v == "false" or v == "False" or v == "FALSE" then return false end
  if v:match("^[-+]?%d+$") then return math.tointeger(tonumber(v)) or tonumber(v) end
  if v:match("^[-+]?%d*%.%d+$") or v:match("^[-+]?%d+%.%d*$") or v:match("^[-+]?%d+%.?%d*[eE][-+]?%d+$") then
    return tonumber(v)
  end
  return v
end

local function type_word(spec)
  local t = spec.type
  if t == "string" then return "a string" end
  if t == "int" then return "a whole number" end
  if t == "bool" then return "true or false" end
  if t == "duration" then return "a duration like 90s, 15m or 1h30m" end
  if t == "size" then return "a size like 16KiB" end
  if t == "enum" then return "one of " .. table.concat(spec.values, ", ") end
  if t == "command" then return "a command (a string or a list of strings)" end
  if t == "list" then return "a list" end
  return "a mapping"
end

-- The decoder: ctx = {file, errs, pos}. pos maps each decoded table to its
-- node so later checks can point at it.
local D = {}
M.decoder = D

local function err(ctx, node, fmt, ...)
  ctx.errs[#ctx.errs + 1] = { line = node.line or 0, col = node.col or 0, msg = string.format(fmt, ...) }
end
M.err = err

local function wrong(ctx, node, what, spec)
  local found = node.t == "s" and ("'" .. node.v .. "'") or describe[node.t] or "empty"
  err(ctx, node, "%s must be %s, not %s", what, type_word(spec), found)
end

function D.value(ctx, node, spec, what)
  if node == nil then return nil end
  local t = spec.type
  if node.t == "s" and node.plain and (node.v == "" or node.v == "~" or node.v == "null") and t ~= "any" then
    err(ctx, node, "%s has no value", what)
    return nil
  end
  if t == "any" then
    if node.t == "s" then
      local v = scalar_value(node)
      if type(v) == "string" and v:find("${{", 1, true) then return expr.template(ctx, node, v) end
      return v
    elseif node.t == "q" then
      local out = {}
      for i, item in ipairs(node) do out[i] = D.value(ctx, item, spec, what .. "[" .. i .. "]") end
      ctx.pos[out] = node
      return out
    else
      local out = {}
      for i, k in ipairs(node.keys) do
        if k.t ~= "s" then err(ctx, k, "keys of %s must be scalars", what)
        else out[k.v] = D.value(ctx, node.vals[i], spec, what .. "." .. k.v) end
      end
      ctx.pos[out] = node
      return out
    end
  end
  if t == "string" or t == "int" or t == "bool" or t == "duration" or t == "size" or t == "enum" then
    if node.t ~= "s" then wrong(ctx, node, what, spec); return nil end
    return D[t](ctx, node, spec, what)
  end
  if t == "command" then
    if node.t == "s" then return D.string(ctx, node, spec, what) end
    if node.t == "q" then
      if #node == 0 then err(ctx, node, "%s is an empty command", what); return nil end
      return D.list(ctx, node, { type = "list", items = str() }, what)
    end
    wrong(ctx, node, what, spec)
    return nil
  end
  return D[t](ctx, node, spec, what)
end

function D.string(ctx, node, spec, what)
  local v = node.v
  if spec.name and not v:match("^[%w][%w_.%-]*$") then
    err(ctx, node, "%s '%s' must start with a letter or digit and hold only letters, digits, '_', '.' and '-'", what, v)
  end
  if spec.code then
    local _, e = load(v, "=" .. what, "t", {})
    if e then
      local l, m = e:match("^[^:]*:(%d+): (.*)$")
      local line = node.line + (tonumber(l) or 1) - 1
      if node.block then line = line + 1 end
      err(ctx, { line = line, col = node.col }, "Lua syntax error in %s: %s", what, m or e)
    end
    return v
  end
  if v:find("${{", 1, true) then return expr.template(ctx, node, v) end
  return v
end

function D.int(ctx, node, spec, what)
  local v = node.plain and node.v:match("^[-+]?%d+$") and math.tointeger(tonumber(node.v))
  if not v then wrong(ctx, node, what, spec); return nil end
  if (spec.min and v < spec.min) or (spec.max and v > spec.max) then
    if spec.min == spec.max then err(ctx, node, "%s must be %d", what, spec.min)
    else err(ctx, node, "%s must be between %s and %s", what, spec.min or "-", spec.max or "-") end
    return nil
  end
  return v
end

function D.bool(ctx, node, spec, what)
  if node.plain and node.v == "true" then return true end
  if node.plain and node.v == "false" then return false end
  wrong(ctx, node, what, spec)
  return nil
end

function D.duration(ctx, node, spec, what)
  local v = util.parse_duration(node.v)
  if not v then err(ctx, node, "%s: bad duration '%s' (use e.g. 90s, 15m, 1h30m, 500ms)", what, node.v) end
  return v
end

function D.size(ctx, node, spec, what)
  local v = util.parse_size(node.v)
  if not v or v == 0 then err(ctx, node, "%s: bad size '%s' (use e.g. 16KiB, 1MiB, 4096)", what, node.v) end
  return v
end

function D.enum(ctx, node, spec, what)
  if util.contains(spec.values, node.v) then return node.v end
  if spec.never and spec.never[node.v] then
    err(ctx, node, "%s: '%s' %s", what, node.v, spec.never[node.v])
    return nil
  end
  local near = util.nearest(node.v, spec.values)
  err(ctx, node, "%s: unknown value '%s'%s (one of %s)", what, node.v,
    near and (", did you mean '" .. near .. "'?") or "", table.concat(spec.values, ", "))
  return nil
end

function D.list(ctx, node, spec, what)
  if node.t ~= "q" then wrong(ctx, node, what, spec); return nil end
  local out = {}
  for i, item in ipairs(node) do
    out[#out + 1] = D.value(ctx, item, spec.items, what .. "[" .. i .. "]")
  end
  ctx.pos[out] = node
  return out
end

-- name -> value; duplicate names are errors that point at both.
function D.dict(ctx, node, spec, what)
  if node.t ~= "m" then wrong(ctx, node, what, spec); return nil end
  local out, seen, order = {}, {}, {}
  for i, k in ipairs(node.keys) do
    if k.t ~= "s" then err(ctx, k, "names in %s must be scalars", what)
    elseif seen[k.v] then
      err(ctx, k, "duplicate %s '%s' (first at line %d)", what:gsub("s$", ""), k.v, seen[k.v].line)
    else
      if spec.names and not k.v:match("^[%w][%w_.%-]*$") then
        err(ctx, k, "%s name '%s' must start with a letter or digit and hold only letters, digits, '_', '.' and '-'",
          what:gsub("s$", ""), k.v)
      end
      seen[k.v] = k
      order[#order + 1] = k.v
      local v = D.value(ctx, node.vals[i], spec.values, what .. "." .. k.v)
      if v == nil and spec.values.type == "object" then v = {} end
      out[k.v] = v
      if type(v) == "table" then ctx.keypos[v] = k end
    end
  end
  ctx.pos[out] = node
  ctx.order[out] = order
  return out
end

local function fields_of(spec)
  local names = {}
  for k in pairs(spec.fields) do names[#names + 1] = k end
  table.sort(names)
  return names
end

function D.object(ctx, node, spec, what, allowed)
  if node.t ~= "m" then wrong(ctx, node, what, spec); return nil end
  local fields = allowed or spec.fields
  local out, seen = {}, {}
  for i, k in ipairs(node.keys) do
    local key = k.t == "s" and k.v or nil
    if not key then err(ctx, k, "keys of %s must be scalars", what)
    elseif seen[key] then err(ctx, k, "duplicate key '%s' (first at line %d)", key, seen[key].line)
    elseif not fields[key] then
      local names = {}
      for name in pairs(fields) do names[#names + 1] = name end
      table.sort(names)
      local near = util.nearest(key, names)
      if near then err(ctx, k, "unknown key '%s', did you mean '%s'?", key, near)
      else err(ctx, k, "unknown key '%s' in %s (known: %s)", key, what, table.concat(names, ", ")) end
    else
      seen[key] = k
      out[key] = D.value(ctx, node.vals[i], fields[key], what == "plan" and key or (what .. "." .. key))
      if type(out[key]) == "table" then ctx.keypos[out[key]] = k end
    end
  end
  local suggested = {}
  for _, e in ipairs(ctx.errs) do
    local near = e.msg:match("did you mean '([^']+)'%?$")
    if near then suggested[near] = true end
  end
  for name, fspec in pairs(fields) do
    if fspec.required and out[name] == nil and not seen[name] and not suggested[name] then
      err(ctx, node, "%s: missing required key '%s'", what, name)
    end
  end
  ctx.pos[out] = node
  ctx.seen[out] = seen
  return out
end

function D.kinds(ctx, node, spec, what)
  if node.t ~= "m" then
    err(ctx, node, "%s must be a mapping with one of: %s", what, table.concat(util.sorted_keys(spec.kinds), ", "))
    return nil
  end
  local kind
  for _, k in ipairs(node.keys) do
    if k.t == "s" and spec.kinds[k.v] then
      if kind then
        err(ctx, k, "%s has both '%s' and '%s'; use one per %s", what, kind, k.v, spec.what)
        return nil
      end
      kind = k.v
    end
  end
  if not kind then
    err(ctx, node, "%s needs one of: %s", what, table.concat(util.sorted_keys(spec.kinds), ", "))
    return nil
  end
  local allowed = util.copy(spec.common)
  allowed[kind] = spec.kinds[kind].main
  for k, v in pairs(spec.kinds[kind].extra or {}) do allowed[k] = v end
  local out = D.object(ctx, node, spec, what, allowed)
  if out then out.kind = kind end
  return out
end

------------------------------------------------------------------------
-- JSON Schema

local duration_pattern = "^([0-9]+(ms|s|m|h|d))+$"

local function js(spec)
  local t = spec.type
  if t == "string" then return { type = "string" } end
  if t == "int" then return { type = "integer", minimum = spec.min, maximum = spec.max } end
  if t == "bool" then return { type = "boolean" } end
  if t == "duration" then return { type = "string", pattern = duration_pattern } end
  if t == "size" then return { anyOf = { { type = "integer", minimum = 1 },
    { type = "string", pattern = "^[0-9]+(B|KiB|MiB|GiB|TiB|K|M|G)?$" } } } end
  if t == "enum" then return { enum = spec.values } end
  if t == "any" then return {} end
  if t == "command" then
    return { anyOf = { { type = "string" }, { type = "array", items = { type = "string" }, minItems = 1 } } }
  end
  if t == "list" then return { type = "array", items = js(spec.items) } end
  if t == "dict" then
    return { type = "object", additionalProperties = js(spec.values),
      propertyNames = { pattern = "^[A-Za-z0-9][A-Za-z0-9_.-]*$" } }
  end
  if t == "object" then
    local props, req = {}, setmetatable({}, { __jsontype = "array" })
    for _, name in ipairs(fields_of(spec)) do
      props[name] = js(spec.fields[name])
      if spec.fields[name].required then req[#req + 1] = name end
    end
    return { type = "object", properties = props, required = #req > 0 and req or nil, additionalProperties = false }
  end
  if t == "kinds" then
    local props, one = {}, {}
    for name, f in pairs(spec.common) do props[name] = js(f) end
    for _, kind in ipairs(util.sorted_keys(spec.kinds)) do
      local k = spec.kinds[kind]
      props[kind] = js(k.main)
      for name, f in pairs(k.extra or {}) do props[name] = js(f) end
      one[#one + 1] = { required = { kind } }
    end
    return { type = "object", properties = props, oneOf = one, additionalProperties = false }
  end
  error("no JSON Schema for " .. tostring(t))
end

function M.json_schema()
  local s = js(M.plan)
  s["$schema"] = "https://json-schema.org/draft/2020-12/schema"
  s["$id"] = "https://lifeboat.dev/schema/plan-1.json"
  s.title = "lifeboat recovery plan"
  return s
end

-- Every key the loader knows, per object path: the schema test compares it
-- with the JSON Schema's properties.
function M.known_keys()
  local out = {}
  local function walk(spec, path)
    if spec.type == "object" then
      out[path] = fields_of(spec)
      for name, f in pairs(spec.fields) do walk(f, path .. "." .. name) end
    elseif spec.type == "list" then walk(spec.items, path .. "[]")
    elseif spec.type == "dict" then walk(spec.values, path .. ".*")
    elseif spec.type == "kinds" then
      local names = util.sorted_keys(spec.common)
      for kind, k in pairs(spec.kinds) do
        names[#names + 1] = kind
        for extra in pairs(k.extra or {}) do if not util.contains(names, extra) then names[#names + 1] = extra end end
      end
      table.sort(names)
      out[path] = names
    end
  end
  walk(M.plan, "plan")
  return out
end

return M
