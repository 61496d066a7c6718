-- json.lua: JSON for stdlib and plans (cJSON underneath). null is json.null.
local M = {}
M.null = core.null

function M.encode(v, pretty) return core.json_encode(v, pretty) end

-- decode(TEXT) -> value | nil, err
function M.decode(s)
  if type(s) ~= "string" then return nil, "json.decode needs a string" end
  return core.json_decode(s)
end

function M.array(t) return setmetatable(t or {}, { __jsontype = "array" }) end

return M
