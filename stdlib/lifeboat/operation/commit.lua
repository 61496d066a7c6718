-- commit: a migration is final; the plan's replica data goes. With
-- --onward SITE the machines are protected onward: the site they now run
-- at becomes the primary and SITE the recovery site, so replicate, drill
-- and failover go on without the plan being edited.
return {
  name = "commit", order = 6,
  summary = "complete a migration: stop replication, drop replica data",
  usage = "lifeboat commit PLAN [--onward SITE] [OPTIONS]",
  help = "Completes a migration: stops replication and drops the plan's replica data.\n" ..
    "--onward SITE: protect the migrated machines onward instead: the recovery site\n" ..
    "becomes the plan's primary and SITE (a site of the plan) its recovery site; the next\n" ..
    "replicate starts the new replica from where the machines now run.",
  flags = {}, values = { "onward" }, needs_store = true,
  site = "recovery",
  machines = function(st) return st.subset end,
  direction = function() return "to-recovery" end,
  refusal = function(st)
    if st.phase ~= "failed-over" then return "nothing to commit: run 'lifeboat failover PLAN' first" end
    -- the plan's state is one for all its machines: committing some would
    -- end the protection of the others too
    if st.subset then
      return string.format("only %s failed over: a commit is for the whole plan; fail back (reprotect, " ..
        "failback) instead", table.concat(st.subset, ", "))
    end
  end,
  build = function(b, h, args)
    local here = h.site("recovery")
    if args.onward then
      local next_site = h.named_site(args.onward)
      if next_site.name == here.name then
        error(string.format("--onward %s: the machines run there now; name the site to protect them to", args.onward), 0)
      end
      -- drills restore into the drill site and clean it up: never production's
      if next_site.name == h.site("drill").name then
        error(string.format("--onward %s: that is the plan's drill site, which drills clean up; name another", args.onward), 0)
      end
    end
    h.each(here, "forget", "commit", true, nil, h.both)
  end,
  apply = function(st, job, args, ok)
    if not ok then return end
    if not args.onward then st.phase = "committed"; return end
    local function site_of(role) return require("lifeboat.state").site_of(st, role) end
    st.roles = { primary = site_of("recovery"), recovery = args.onward, drill = site_of("drill") }
    st.phase, st.active, st.subset = "protected", "primary", nil
    st.onward = { job = job.id, t = core.now() }
    st.last_good_drill = nil -- no drill has tested the new pair of sites yet
  end,
}
