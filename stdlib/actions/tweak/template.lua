-- tweak.template: renders `source` (a file with ${{ }} expressions, in the
-- step's scope) into `dest`, atomically. A dest that existed is kept in
-- the job folder like every tweaked file, and keeps its mode; a new one
-- gets `mode` (octal digits, as "0640"), else 0600: a rendered file often
-- holds secrets.
local expr = require("lifeboat.expr")
local tweak = require("lifeboat.tweak")
local util = require("lifeboat.util")

local A = {}

-- "0640" or 640 (YAML reads 0640 as a number) -> 416 (0640); nil when not octal
local function octal(mode)
  local digits = tostring(mode)
  if not digits:match("^0?[0-7][0-7][0-7]$") then return nil end
  return tonumber(digits, 8)
end

local function bad_mode(mode)
  return "'mode' must be octal digits like \"0640\", not '" .. tostring(mode) .. "'"
end

function A.check(with)
  if not with.source then return "'source' is required" end
  if not with.dest then return "'dest' is required" end
  -- an expression is checked when it has a value, at run time
  local m = with.mode
  if (type(m) == "string" or type(m) == "number") and not octal(m) then return bad_mode(m) end
end

function A.run(with, ctx)
  local source = with.source
  if ctx and ctx.plan and source:sub(1, 1) ~= "/" then source = util.join(ctx.plan.dir, source) end
  local text, e = core.fs.read(source)
  if not text then error(e, 0) end
  local pctx = { file = source, errs = {} }
  local t = expr.template(pctx, { line = 0, col = 1, block = true }, text)
  if #pctx.errs > 0 then
    error(string.format("%s:%d:%d: %s", source, pctx.errs[1].line, pctx.errs[1].col, pctx.errs[1].msg), 0)
  end
  local rendered = tostring(expr.render(t, ctx and ctx.scope or {}))
  if not core.fs.stat(with.dest) then
    local mode = with.mode == nil and 384 or octal(with.mode) -- 384 = 0600
    if not mode then error(bad_mode(with.mode), 0) end
    local ok, we = core.fs.write(with.dest, "", mode)
    if not ok then error(we, 0) end
  end
  return tweak.edit(ctx, with.dest, function() return rendered, "rendered from " .. with.source end)
end

return A
