-- reprotect: after a failover, the recovery site replicates back towards
-- the primary.
return {
  name = "reprotect", order = 7,
  summary = "replicate the recovery site back to the primary",
  usage = "lifeboat reprotect PLAN [OPTIONS]",
  help = "Replicates the recovery site back towards the primary.",
  flags = {}, values = {}, needs_store = true,
  site = "recovery",
  machines = function(st) return st.subset end,
  direction = function() return "to-primary" end,
  refusal = function(st)
    if st.phase ~= "failed-over" then return "reprotect follows a failover: run 'lifeboat failover PLAN' first" end
  end,
  build = function(_, h)
    h.fence("failed-over", "recovery", "recovery", "the recovery site replicates")
    h.each(h.site("recovery"), "sync", "reprotect", false, nil, h.both)
  end,
  apply = function(st, _, _, ok) if ok then st.phase = "reprotected" end end,
}
