-- expr.lua: ${{ expr }} in plan strings. A string holding expressions is
-- loaded as a template that remembers where it is in the plan; each
-- expression is checked for Lua syntax when the plan loads and evaluated
-- where the value is used, in the step's scope.
local M = {}

local Template = {}
Template.__index = Template
Template.__tostring = function(t) return t.text end

function M.is_template(v) return getmetatable(v) == Template end

-- The position of byte offset i of a scalar's text in the plan file.
local function position(node, text, i)
  if node.block then
    local before = text:sub(1, i - 1)
    local _, newlines = before:gsub("\n", "")
    local last = before:match("[^\n]*$")
    return node.line + 1 + newlines, node.col + #last
  end
  return node.line, node.col + (node.quoted and 1 or 0) + i - 1
end

function M.template(ctx, node, text)
  local parts, pos = {}, 1
  while true do
    local s, e = text:find("${{", pos, true)
    if not s then
      if pos <= #text then parts[#parts + 1] = text:sub(pos) end
      break
    end
    if s > pos then parts[#parts + 1] = text:sub(pos, s - 1) end
    local close = text:find("}}", e + 1, true)
    local line, col = position(node, text, s)
    if not close then
      ctx.errs[#ctx.errs + 1] = { line = line, col = col, msg = "'${{' without a closing '}}'" }
      return text
    end
    local code = text:sub(e + 1, close - 1):gsub("^%s+", ""):gsub("%s+$", "")
    local where = string.format("%s:%d:%d", ctx.file, line, col)
    if code == "" then
      ctx.errs[#ctx.errs + 1] = { line = line, col = col, msg = "empty expression '${{ }}'" }
    else
      local _, err = load("return " .. code, "=expr", "t", {})
      if err then
        ctx.errs[#ctx.errs + 1] = { line = line, col = col,
          msg = "Lua syntax error in expression '" .. code .. "': " .. (err:match("^expr:%d+: (.*)$") or err) }
      end
    end
    parts[#parts + 1] = { code = code, where = where }
    pos = close + 2
  end
  return setmetatable({ text = text, parts = parts }, Template)
end

local compiled = {}

-- What expressions see besides their scope: the side-effect-free basics,
-- read-only like the scope itself (an expression is plan code).
local readonly = require("lifeboat.readonly")
local base = readonly.freeze { string = string, math = math, table = table, tostring = tostring, tonumber = tonumber,
  type = type, pairs = pairs, ipairs = ipairs, select = select, next = next,
  os = { time = os.time, date = os.date, getenv = require("lifeboat.secrets").getenv } }
local envs = setmetatable({}, { __mode = "k" })

local function env_of(scope)
  local env = envs[scope]
  if not env then
    env = setmetatable({}, {
      __index = function(_, k)
        local v = scope[k]
        if v == nil then return base[k] end
        return readonly.view(v)
      end,
      __newindex = function() error("an expression cannot set variables", 2) end,
      __metatable = "read-only",
    })
    envs[scope] = env
  end
  return env
end

local function eval(part, scope)
  local fn = compiled[part.code]
  if not fn then
    fn = assert(load("local _ENV = ...; return (" .. part.code .. ")", "=expr", "t", {}))
    compiled[part.code] = fn
  end
  local ok, v = pcall(fn, env_of(scope))
  if not ok then
    error(string.format("%s: ${{ %s }}: %s", part.where, part.code, (tostring(v):gsub("^expr:%d+: ", ""))), 0)
  end
  if v == nil then error(string.format("%s: ${{ %s }} has no value", part.where, part.code), 0) end
  return v
end

-- The value of v in scope: templates are evaluated (a template that is
-- one expression keeps the expression's type), tables are rendered deeply.
function M.render(v, scope)
  if M.is_template(v) then
    if #v.parts == 1 and type(v.parts[1]) == "table" then return eval(v.parts[1], scope) end
    local out = {}
    for i, p in ipairs(v.parts) do
      out[i] = type(p) == "table" and tostring(eval(p, scope)) or p
    end
    return table.concat(out)
  end
  if type(v) == "table" and getmetatable(v) == nil then
    local out = {}
    for k, x in pairs(v) do out[k] = M.render(x, scope) end
    return out
  end
  return v
end

-- The parts of template v with its expressions evaluated in scope: the
-- literal text as strings, each expression as {value = V}.
function M.parts(v, scope)
  local out = {}
  for i, p in ipairs(v.parts) do out[i] = type(p) == "table" and { value = eval(p, scope) } or p end
  return out
end

-- The text of a value for display (templates unevaluated).
function M.text(v)
  if M.is_template(v) then return v.text end
  if type(v) == "table" then
    local out = {}
    for i, x in ipairs(v) do out[i] = M.text(x) end
    return table.concat(out, " ")
  end
  return tostring(v)
end

return M
