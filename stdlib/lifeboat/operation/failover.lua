-- failover: the machines come up at the recovery site; with --planned the
-- primary is shut down and synced one last time first.
return {
  name = "failover", order = 4,
  summary = "bring the plan's machines up at the recovery site",
  usage = "lifeboat failover PLAN [--planned [--force]] [--point P] [OPTIONS]",
  help = "--planned: stop the primary in reverse group order, final sync of each machine once\n" ..
    "it is verified down, then bring the recovery site up. Without it the primary is\n" ..
    "assumed gone. A machine that is not verified down stops the failover before\n" ..
    "anything comes up; --force goes on, its final point crash-consistent.\n" ..
    "A failover of some machines (--machines, --group) fences only those; change-point,\n" ..
    "reprotect and failback then run on them, and replicate on the others.",
  flags = { "planned", "force" }, values = { "point" }, subset = true,
  site = "recovery", brings_up = true, needs_store = true,
  check = function(args)
    if args.force and not args.planned then return "--force is for failover --planned and failback" end
  end,
  planned = function(args) return args.planned or false end,
  direction = function() return "to-recovery" end,
  refusal = function(st)
    if st.phase == "failed-over" then return "the plan already failed over to the recovery site" end
    if st.phase == "reprotected" then return "the plan runs at the recovery site: use 'lifeboat failback PLAN'" end
    if st.phase == "committed" then return "the migration is committed" end
  end,
  build = function(_, h, args)
    if args.planned then h.shutdown(h.site("primary")) end
    -- the primary may come back (unplanned) or still be syncing: fence it first
    h.fence("failed-over", "recovery", nil, "the primary may no longer replicate")
    h.up(h.site("recovery"), "restore")
  end,
  apply = function(st, _, args, ok)
    if ok then st.active, st.phase, st.subset = "recovery", "failed-over", args.machines end
  end,
}
