-- actions/log.lua: `uses: log` with `with: { message: TEXT }` writes a line
-- to the job's output and the step's log.
local api = require("lifeboat.api")

local A = {}

function A.check(with)
  if type(with.message) ~= "string" and type(with.message) ~= "table" then return "'message' is required" end
end

function A.run(with)
  api.log("%s", tostring(with.message))
  return { logged = true }
end

return A
