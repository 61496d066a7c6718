-- actions/notify/webhook.lua: `uses: notify.webhook` POSTs a JSON message
-- (with: url, text, and any other fields to send) and fails unless the
-- answer is 2xx. Secrets in the answer or the error are redacted like
-- everywhere else.
local api = require("lifeboat.api")

local A = {}

function A.check(with)
  if not with.url then return "'url' is required" end
end

function A.run(with, ctx)
  local body = {}
  for k, v in pairs(with) do if k ~= "url" and k ~= "headers" then body[k] = v end end
  body.plan = body.plan or (ctx and ctx.plan.name)
  body.job = body.job or (ctx and ctx.job and ctx.job.id)
  body.step = body.step or (ctx and ctx.step and ctx.step.id)
  local r = api.http { url = with.url, method = "POST", body = body, headers = with.headers }
  if r.status < 200 or r.status >= 300 then
    error(string.format("webhook %s answered %d", with.url, r.status), 0)
  end
  return { status = r.status }
end

return A
