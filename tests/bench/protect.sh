#!/usr/bin/env bash
# make bench, lifeboat protect at scale: 200 machines (the noop provider:
# the service's own work, no data) with a 1-minute RPO. The time of one
# replicate round (the scheduling overhead: a journaled job of 200 sync
# steps and the RPO judged for each machine), and the service's CPU use
# while nothing is due (goal: under 1% of a core). Appends to docs/benchmarks.md.
#   BENCH_PROTECT_IDLE=50 (seconds measured idle)
set -eu
cd "$(dirname "$0")/../.."
ROOT=$PWD
LB=$ROOT/${BUILD:-build}/lifeboat
IDLE=${BENCH_PROTECT_IDLE:-50}
W=${BENCH_DIR:-/tmp/lifeboat-bench-protect}
OUT=$ROOT/docs/benchmarks.md
rm -rf "$W"; mkdir -p "$W"; cd "$W"
sh "$ROOT/tests/bench/genplan.sh" 200 4 | sed 's/^name: bench$/name: bench\npolicy: { rpo_threshold: 1m, replicate_every: 1m }/' > plan.yaml
"$LB" validate plan.yaml >/dev/null
"$LB" protect plan.yaml > service.log 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null' EXIT
for i in $(seq 600); do grep -q '^job .* done in' service.log && break; sleep 0.1; done
round=$(grep -o '^job .* done in .*' service.log | head -1 | sed 's/.*done in //')
ticks() { awk '{print $14 + $15}' /proc/$pid/stat; }
sleep 2
c0=$(ticks) t0=$(date +%s.%N)
sleep "$IDLE"
c1=$(ticks) t1=$(date +%s.%N)
runs=$(grep -c '^job .* done in' service.log)
cpu=$(awk "BEGIN{printf \"%.3f\", ($c1 - $c0) / 100 / ($t1 - $t0) * 100}")
rss=$(awk '/VmRSS/ {print $2}' /proc/$pid/status)
kill -TERM $pid; wait $pid || true
{
	echo
	echo "### \`lifeboat protect\` at scale (\`tests/bench/protect.sh\`)"
	echo
	echo "200 machines in 4 groups on the noop provider (the service's own work, no data), RPO 1m and a"
	echo "replicate every minute. One round's replicate job (200 sync steps, journaled): $round."
	echo "Idle between rounds ($IDLE s measured, $((runs - 1)) round(s) due meanwhile; the RPO judged every 10 s):"
	echo "$cpu% of a core (goal: under 1%); resident memory ${rss} KiB."
} >> "$OUT"
echo "protect: round $round, idle CPU $cpu% of a core over $IDLE s (rounds meanwhile: $((runs - 1))), RSS $rss KiB"
