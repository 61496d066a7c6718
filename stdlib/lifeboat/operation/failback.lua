-- failback: a planned failover back to the primary, restoring in place.
return {
  name = "failback", order = 8,
  summary = "planned failover back to the primary",
  usage = "lifeboat failback PLAN [--force] [--point P] [OPTIONS]",
  help = "Planned failover back to the primary, restoring in place (--force: as for\n" ..
    "failover --planned).",
  flags = { "force" }, values = { "point" },
  site = "primary", brings_up = true, needs_store = true,
  planned = function() return true end,
  machines = function(st) return st.subset end,
  direction = function() return "to-primary" end,
  refusal = function(st)
    if st.phase == "failed-over" then
      return "the primary has no copy of what changed at the recovery site: run 'lifeboat reprotect PLAN' first"
    end
    if st.phase ~= "reprotected" then return "the plan runs at the primary: there is nothing to fail back" end
  end,
  build = function(b, h)
    h.shutdown(h.site("recovery"))
    h.fence("reprotected", "primary", nil, "the recovery site may no longer replicate")
    b.rt.args.delta = true
    h.up(h.site("primary"), "restore")
  end,
  apply = function(st, _, _, ok)
    if ok then st.active, st.phase, st.subset = "primary", "protected", nil end
  end,
}
