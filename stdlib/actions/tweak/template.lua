-- tweak.template: renders `source` (a file with ${{ }} expressions, in the
-- step's scope) into `dest`, atomically. A dest that existed is kept in
-- the job folder like every tweaked file.
local expr = require("lifeboat.expr")
local tweak = require("lifeboat.tweak")
local util = require("lifeboat.util")

local A = {}

function A.check(with)
  if not with.source then return "'source' is required" end
  if not with.dest then return "'dest' is required" end
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
  if not core.fs.stat(with.dest) then assert(core.fs.write(with.dest, "")) end
  return tweak.edit(ctx, with.dest, function() return rendered, "rendered from " .. with.source end)
end

return A
