-- replicate: a recovery point of every dataset of every machine, from the
-- site that may replicate (the primary; the recovery site once reprotected).
return {
  name = "replicate", order = 1,
  summary = "take a recovery point of every dataset of a plan",
  usage = "lifeboat replicate PLAN [--app] [OPTIONS]",
  help = "Takes a recovery point of every dataset of every machine (the first one creates\n" ..
    "the store). --app, or policy.app_consistent_every, quiesces: per group the machines'\n" ..
    "quiesce.before, their syncs (app-consistent points), then quiesce.after.",
  flags = { "app" }, values = {}, subset = true,
  site = "primary, or recovery once reprotected",
  direction = function(st) return st.active == "recovery" and "to-primary" or "to-recovery" end,
  -- after a failover of some machines: the others, which still run at the
  -- primary; while the subset is reprotected, the subset (the others wait)
  machines = function(st, plan)
    if not st.subset or st.phase == "reprotected" then return st.subset end
    return require("lifeboat.state").others(plan, st.subset)
  end,
  refusal = function(st)
    -- machines that did not fail over with a subset go on replicating
    if st.subset and (st.phase == "failed-over" or st.phase == "committed") then return nil end
    if st.phase == "failed-over" then
      return "the plan failed over to the recovery site, so the old primary is fenced: run 'lifeboat reprotect PLAN' " ..
        "to replicate the recovery site back, or 'lifeboat commit PLAN' to finish the migration"
    end
    if st.phase == "committed" then return "the migration is committed: replication of this plan has stopped" end
  end,
  build = function(b, h)
    local site = h.site(b.rt.source or "primary")
    if b.rt.quiesce then h.quiesced_sync(site) else h.each(site, "sync", "sync", false, nil, h.both) end
    h.retention(site)
  end,
  apply = function(st, _, _, ok, rt)
    if ok and rt.quiesce then st.last_app = core.now() end
  end,
}
