-- change-point: after a failover and before commit or reprotect, the
-- machines at the recovery site start again from another recovery point
-- (an older one, when the newest turns out to hold the damage).
return {
  name = "change-point", order = 5,
  summary = "after a failover, start the machines again from another point",
  usage = "lifeboat change-point PLAN --point P [OPTIONS]",
  help = "After a failover, before commit or reprotect: stops the machines at the recovery\n" ..
    "site (reverse group order), restores each in place from the point --point names\n" ..
    "(only what differs is written), then starts them group by group with their\n" ..
    "prepare actions and health checks, as the failover did.",
  flags = {}, values = { "point" },
  site = "recovery", brings_up = true, needs_store = true,
  check = function(args)
    if not args.point then return "change-point needs --point P: the point to start the machines from" end
  end,
  direction = function() return "to-recovery" end,
  machines = function(st) return st.subset end,
  refusal = function(st)
    if st.phase == "reprotected" then
      return "the recovery site already replicates back (reprotect): what changed there since would be lost"
    end
    if st.phase ~= "failed-over" then return "change-point follows a failover: run 'lifeboat failover PLAN' first" end
  end,
  build = function(b, h)
    local site = h.site("recovery")
    h.each(site, "stop", "stop", true)
    b.rt.args.delta = true
    h.up(site, "restore")
  end,
}
