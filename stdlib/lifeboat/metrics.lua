-- metrics.lua: what `lifeboat protect --metrics` publishes, as Prometheus
-- text exposition (version 0.0.4): per plan, machine and dataset the age
-- of the newest point, the RPO threshold and whether it is breached, the
-- last sync's duration and bytes, failures, the last passing drill; and
-- the service's own process metrics.
local M = {}

local function label(v) return (tostring(v):gsub("\\", "\\\\"):gsub("\n", "\\n"):gsub('"', '\\"')) end

local function labels(t)
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = k end
  table.sort(keys)
  local out = {}
  for _, k in ipairs(keys) do out[#out + 1] = k .. '="' .. label(t[k]) .. '"' end
  return "{" .. table.concat(out, ",") .. "}"
end

local function number(v)
  if v == math.huge then return "+Inf" end
  if math.type(v) == "integer" then return tostring(v) end
  return string.format("%.15g", v)
end

-- A set of families: add(name, type, help, labels, value).
function M.new()
  local fams, order = {}, {}
  local set = {}
  function set.add(name, typ, help, lbl, value)
    if value == nil then return end
    local f = fams[name]
    if not f then
      f = { type = typ, help = help, samples = {} }
      fams[name] = f
      order[#order + 1] = name
    end
    f.samples[#f.samples + 1] = name .. (lbl and next(lbl) and labels(lbl) or "") .. " " .. number(value)
  end
  function set.text()
    local out = {}
    for _, name in ipairs(order) do
      local f = fams[name]
      out[#out + 1] = "# HELP " .. name .. " " .. f.help
      out[#out + 1] = "# TYPE " .. name .. " " .. f.type
      for _, s in ipairs(f.samples) do out[#out + 1] = s end
    end
    return table.concat(out, "\n") .. "\n"
  end
  return set
end

-- The process's own: resident memory, open files, CPU time, start time.
function M.process(set)
  local stat = core.fs.read("/proc/self/stat") or ""
  local rest = stat:match("^%d+ %(.*%) (.*)$") or ""
  local f = {} -- f[i] is field i + 2 of proc(5)'s stat
  for x in rest:gmatch("%S+") do f[#f + 1] = tonumber(x) or 0 end
  local ticks = 100 -- sysconf(_SC_CLK_TCK) on Linux
  local btime = tonumber((core.fs.read("/proc/stat") or ""):match("\nbtime (%d+)"))
  if f[12] and f[13] then set.add("process_cpu_seconds_total", "counter", "User and system CPU time spent in seconds.", nil, (f[12] + f[13]) / ticks) end
  if f[22] then set.add("process_resident_memory_bytes", "gauge", "Resident memory size in bytes.", nil, math.tointeger(f[22] * 4096)) end
  if f[20] and btime then set.add("process_start_time_seconds", "gauge", "Start time of the process since unix epoch in seconds.", nil, btime + f[20] / ticks) end
  set.add("process_open_fds", "gauge", "Number of open file descriptors.", nil, #(core.fs.list("/proc/self/fd") or {}))
end

return M
