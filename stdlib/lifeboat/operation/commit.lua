-- commit: a migration is final; the plan's replica data goes.
return {
  name = "commit", order = 6,
  summary = "complete a migration: stop replication, drop replica data",
  usage = "lifeboat commit PLAN [OPTIONS]",
  help = "Completes a migration: stops replication and drops the plan's replica data.",
  flags = {}, values = {}, needs_store = true,
  site = "recovery",
  machines = function(st) return st.subset end,
  direction = function() return "to-recovery" end,
  refusal = function(st)
    if st.phase ~= "failed-over" then return "nothing to commit: run 'lifeboat failover PLAN' first" end
  end,
  build = function(_, h) h.each(h.site("recovery"), "forget", "commit", true, nil, h.both) end,
  apply = function(st, _, _, ok) if ok then st.phase = "committed" end end,
}
