#!/usr/bin/env bash
# make bench, part 3: the interpreter's own cost. A generated plan of
# BENCH_MACHINES machines in 10 groups on the noop provider, 5 steps each,
# run as a failover (the journal fsynced as in any job). The steps do no
# work of their own, so wall time over steps is the engine's overhead per
# step. Median of BENCH_RUNS; appends a section to docs/benchmarks.md.
set -eu
cd "$(dirname "$0")/../.."
ROOT=$PWD
BUILD=${BUILD:-build}
LB=$ROOT/$BUILD/lifeboat
MACHINES=${BENCH_MACHINES:-1000}
RUNS=${BENCH_RUNS:-3}
W=${BENCH_DIR:-$ROOT/bench-plan}
OUT=$ROOT/docs/benchmarks.md
rm -rf "$W"; mkdir -p "$W"; cd "$W"
. "$ROOT/tests/bench/lib.sh"

sh "$ROOT/tests/bench/genplan.sh" "$MACHINES" 10 > plan.yaml
steps=$((MACHINES * 5))
"$LB" validate plan.yaml
for round in $(seq "$RUNS"); do
	rm -rf .lifeboat
	measure plan.failover "$LB" failover plan.yaml
	job=$(grep -o 'job [^ ]* done in [0-9.]*m\?s' "$W/cmd.out")
	R[plan.job]+=" $(awk -v t="${job##* }" 'BEGIN{ if (t ~ /ms$/) print t/1000; else print t+0 }')"
	# the journal's last event: how long the steps took, before the reports were written
	R[plan.steps]+=" $(grep -h '"ev":"state"' .lifeboat/jobs/*/journal.jsonl | grep -o '"secs":[0-9.]*' | cut -d: -f2)"
	measure plan.validate "$LB" validate plan.yaml
done
medians
per_step_ms=$(awk "BEGIN{printf \"%.3f\", ${R[plan.steps]} * 1000 / $steps}")
reports=$(awk "BEGIN{printf \"%.3f\", ${R[plan.job]} - ${R[plan.steps]}}")
R[plan.steps]=$(awk "BEGIN{printf \"%.3f\", ${R[plan.steps]}}")
whole_ms=$(awk "BEGIN{printf \"%.3f\", ${R[plan.failover.wall]} * 1000 / $steps}")
{
	echo
	echo "## The plan interpreter"
	echo
	echo "A generated plan of $MACHINES machines in 10 groups on the noop provider"
	echo "(\`tests/bench/genplan.sh\`), run as \`lifeboat failover\`: $steps steps (restore,"
	echo "two inline Lua prepare actions, start, health per machine), max_parallel 100, the"
	echo "journal written and fsynced as in every job. The steps do no work of their own, so"
	echo "the time from the job's start to its last step over the number of steps is the engine's"
	echo "overhead per step. Writing the four reports of a $steps-step job comes after, once"
	echo "per job, and is shown on its own line. Median of $RUNS runs."
	echo
	echo "| measure | result | target | met |"
	echo "|---|---|---|---|"
	echo "| steps (scheduler, coroutines, journal) | ${R[plan.steps]} s | | |"
	echo "| engine overhead per step | $per_step_ms ms | ≤ 0.2 ms | $(awk "BEGIN{print ($per_step_ms <= 0.2) ? \"yes\" : \"no\"}") |"
	echo "| reports (json, md, junit, html) | $reports s | | |"
	echo "| job time | ${R[plan.job]} s | | |"
	echo "| whole command (load, check, run) per step | $whole_ms ms | | |"
	echo "| peak RSS | ${R[plan.failover.rss]} MiB | < 64 MiB | $(awk "BEGIN{print (${R[plan.failover.rss]} < 64) ? \"yes\" : \"no\"}") |"
	echo "| validate (load + check) | ${R[plan.validate.wall]} s, ${R[plan.validate.rss]} MiB | | |"
} >> "$OUT"
echo "plan: $steps steps in ${R[plan.steps]} s ($per_step_ms ms/step), reports $reports s, ${R[plan.failover.rss]} MiB"
