-- drill: a test failover into the drill site, health checks, reports,
-- then everything removed again (unless --keep).
return {
  name = "drill", order = 2,
  summary = "test failover into the drill site, check, report, clean up",
  usage = "lifeboat drill PLAN [--keep] [--point P] [OPTIONS]",
  help = "Test failover into the drill site: restore, start groups in order, health checks,\n" ..
    "after-actions, then clean up (--keep leaves it up until 'lifeboat cleanup PLAN').",
  flags = { "keep" }, values = { "point" }, subset = true,
  site = "drill", brings_up = true, needs_store = true,
  direction = function(st) return st.active == "recovery" and "to-primary" or "to-recovery" end,
  refusal = function(st)
    if st.phase == "committed" then return "the migration is committed: there is no replica left to drill" end
  end,
  build = function(b, h, args)
    local site = h.site("drill")
    h.up(site, "restore")
    if not args.keep then
      -- a stop that fails does not keep remove from stopping what lifeboat
      -- started: it is reported, not a failure of the job
      h.each(site, "stop", "cleanup", true, { always = true, on_error = "continue", tolerated = true },
        { op = "cleanup", before = true })
      h.each(site, "remove", "cleanup", true, { always = true }, { op = "cleanup", after = true })
    end
  end,
  -- a drill with a step failed under on_error: continue did not pass
  apply = function(st, job, args, ok)
    st.last_drill = { job = job.id, ok = ok and not job.failures, t = core.now(), rto = job.rto }
    if st.last_drill.ok then st.last_good_drill = st.last_drill end
    if ok and args.keep then st.kept_drill = job.id end
  end,
}
