-- cleanup: stop and remove what a kept or interrupted drill left.
return {
  name = "cleanup", order = 3,
  summary = "remove what a kept or interrupted drill left",
  usage = "lifeboat cleanup PLAN [OPTIONS]",
  help = "Stops and removes what a kept or interrupted drill left at the drill site.",
  flags = {}, values = {},
  site = "drill",
  direction = function(st) return st.active == "recovery" and "to-primary" or "to-recovery" end,
  build = function(b, h)
    local site = h.site("drill")
    -- a failed stop is reported; remove still stops what lifeboat started
    h.each(site, "stop", "cleanup", true, { on_error = "continue", tolerated = true }, { before = true })
    h.each(site, "remove", "cleanup", true, nil, { after = true })
  end,
  apply = function(st, _, _, ok) if ok then st.kept_drill = nil end end,
}
