#!/usr/bin/env bash
# make bench, part 4: the lifecycle of plans/smarthotel on real servers.
# Time from `lifeboat failover` (unplanned, --yes) to every health check
# passing, split into the steps' own work (restore, prepare tweaks, start,
# health checks, other) and the engine's overhead (RTO minus the work of
# the steps, which run one after another on this plan's critical path).
# BENCH_RUNS runs, each onto an empty recovery site; median per column.
set -eu
cd "$(dirname "$0")/../.."
ROOT=$PWD
BUILD=${BUILD:-build}
LB=$ROOT/$BUILD/lifeboat
RUNS=${BENCH_RUNS:-3}
W=${BENCH_DIR:-/tmp/lifeboat-bench-lifecycle}
OUT=$ROOT/docs/benchmarks.md
rm -rf "$W"; mkdir -p "$W"; chmod 755 "$W"
cp -r plans/smarthotel "$W/"
cd "$W/smarthotel"
. "$ROOT/tests/bench/lib.sh"
trap 'sh setup.sh down' EXIT
sh setup.sh >/dev/null
sh book.sh 15432 "Bench Guest" >/dev/null
"$LB" replicate plan.yaml >/dev/null
for run in $(seq "$RUNS"); do
	# back to before the failover: the plan's state here and in the store
	rm -f .lifeboat/plan.json
	"$LB" store state smarthotel --store replica --key-file store.key --phase protected --active primary \
		--source primary --machines db,web >/dev/null
	sh site-b/web/www/stop.sh 2>/dev/null || true
	[ -f site-b/db/pgdata/postmaster.pid ] && sh pg.sh stop 0 site-b/db/pgdata >/dev/null 2>&1 || true
	rm -rf site-b
	SMARTHOTEL_EXPECT="Bench Guest" "$LB" failover plan.yaml --yes >/dev/null
	job=$("$LB" jobs | tail -1 | cut -d' ' -f1)
	line=$(rto_split ".lifeboat/jobs/$job/report.json")
	read -r rto restore prepare start health other overhead <<< "$line"
	for k in rto restore prepare start health other overhead; do R[$k]+=" ${!k}"; done
	printf '  run %d: RTO %.2fs (restore %.2f, prepare %.3f, start %.2f, health %.2f, other %.3f, engine %.4f)\n' \
		"$run" "$rto" "$restore" "$prepare" "$start" "$health" "$other" "$overhead"
done
for k in "${!R[@]}"; do R[$k]=$(median "${R[$k]}"); done
pct=$(awk "BEGIN{printf \"%.2f\", 100 * ${R[overhead]} / ${R[rto]}}")
{
	echo
	echo "## The lifecycle (plans/smarthotel)"
	echo
	echo "\`lifeboat failover plans/smarthotel/plan.yaml --yes\` (unplanned, onto an empty recovery"
	echo "site) with PostgreSQL 15, nginx and PHP-FPM on 127.0.0.1: the time from the command's"
	echo "start to every health check passing (the RTO in report.json), split into the steps'"
	echo "own work, which runs one step after another on this plan's critical path, and the"
	echo "engine's overhead (RTO minus that work). Median of $RUNS runs (\`tests/bench/lifecycle.sh\`)."
	echo
	echo "| RTO | restore | prepare (5 tweaks + 1 exec) | start | health checks | other | engine overhead | target |"
	echo "|---|---|---|---|---|---|---|---|"
	printf '| %.2f s | %.2f s | %.3f s | %.2f s | %.2f s | %.3f s | %.4f s (%s%% of the RTO) | < 1%%: %s |\n' \
		"${R[rto]}" "${R[restore]}" "${R[prepare]}" "${R[start]}" "${R[health]}" "${R[other]}" "${R[overhead]}" "$pct" \
		"$(awk "BEGIN{print ($pct < 1) ? \"met\" : \"missed\"}")"
	echo
	echo "Start includes the provider's 0.3 s check that each started process stays up."
} >> "$OUT"
echo "lifecycle: RTO ${R[rto]} s, engine overhead ${R[overhead]} s ($pct%)"
