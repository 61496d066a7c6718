#!/usr/bin/env bash
# make bench: near-continuous protection of running VMs. The two VMs of
# plans/vm run under `lifeboat protect` with a replicate every 10 s while the
# database VM writes 1 MiB of new random data each second (4 × 256 KiB,
# fsynced, into files of its root file system); changed-block tracking
# makes each sync read only what the guest wrote. Every second a sampler
# asks the store for each disk's newest point and records its age (now −
# the point's time). Reports the maximum and mean age over the window
# (goal: under 30 s) and appends it to docs/benchmarks.md.
#   BENCH_PROTECT_VM_SECONDS=600 (the window)
set -eu
cd "$(dirname "$0")/../.."
ROOT=$PWD
LB=$ROOT/${BUILD:-build}/lifeboat
SECONDS_WANTED=${BENCH_PROTECT_VM_SECONDS:-600}
W=${BENCH_DIR:-/tmp/lifeboat-bench-protect-vm}
OUT=$ROOT/docs/benchmarks.md
export LIFEBOAT_VM_IMAGES=$ROOT/plans/vm/.images
[ -d "$W/vm" ] && sh "$W/vm/lab.sh" down
rm -rf "$W"; mkdir -p "$W"
cp -r plans/vm "$W/"
rm -rf "$W/vm/.images" "$W/vm/sites" "$W/vm/replica" "$W/vm/.lifeboat"
cd "$W/vm"
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; sh lab.sh down >/dev/null 2>&1; }
trap cleanup EXIT
sed -i 's/^  retention: 24h$/  retention: 24h\n  replicate_every: 10s/' plan.yaml
"$LB" validate plan.yaml >/dev/null
sh lab.sh up >/dev/null
# the guest agent of the primary's db VM runs a shell command
guest() { /usr/bin/python3 "$ROOT/tests/bench/guest.py" sites/primary/db/.qga "$1"; }
until guest true 2>/dev/null; do sleep 0.5; done
"$LB" replicate plan.yaml >/dev/null # the first points read the disks whole and start the bitmaps
# 1 MiB per second, paced by the guest's clock
guest '(i=0; while :; do t=$(date +%s); for k in 1 2 3 4; do
	dd if=/dev/urandom of=/data/w$((i % 32)) bs=256k count=1 conv=fsync 2>/dev/null; i=$((i + 1)); done
	echo $i > /data/count; while [ "$(date +%s)" = "$t" ]; do sleep 0.05; done; done) >/dev/null 2>&1 &'
"$LB" protect plan.yaml > protect.log 2>&1 &
pid=$!
/usr/bin/python3 - "$LB" "$SECONDS_WANTED" > ages.txt <<'PY'
import datetime, json, subprocess, sys, time
lb, window = sys.argv[1], float(sys.argv[2])
end = time.time() + window
while time.time() < end:
    t = time.time()
    pts = json.loads(subprocess.run([lb, "points", "--store", "replica", "--json"], capture_output=True, text=True).stdout or "[]")
    newest = {}
    for p in pts:
        ts = datetime.datetime.fromisoformat(p["time"].replace("Z", "+00:00")).timestamp()
        k = p["machine"] + "/" + p["dataset"]
        newest[k] = max(newest.get(k, 0), ts)
    print(" ".join("%s=%.2f" % (k, t - v) for k, v in sorted(newest.items())), flush=True)
    time.sleep(max(0, 1 - (time.time() - t)))
PY
written=$(guest 'cat /data/count')
kill -TERM "$pid"; wait "$pid" || true; pid=
read -r dbmax dbmean webmax samples <<< "$(awk '{ for (i = 1; i <= NF; i++) { split($i, kv, "="); a[kv[1]] = kv[2] }
	n++; db = a["db/root"]; web = a["web/root"]; s += db; if (db > m) m = db; if (web > wm) wm = web }
	END { printf "%.1f %.1f %.1f %d\n", m, s / n, wm, n }' ages.txt)"
rounds=$(grep -c '^job .* done in' protect.log || true)
# the db disk's sync in every round: median and maximum
read -r sync_med sync_max <<< "$(cat .lifeboat/jobs/*-replicate-*/journal.jsonl | /usr/bin/python3 -c 'import json, sys
v = sorted(json.loads(l)["result"]["datasets"]["root"]["seconds"] for l in sys.stdin
           if "\"sync/db/sync\"" in l and "\"ev\":\"done\"" in l)
print("%.2f %.2f" % (v[len(v) // 2], v[-1]))')"
rate=$(awk "BEGIN{printf \"%.2f\", $written * 0.25 / $SECONDS_WANTED}")
{
	echo
	echo "### Near-continuous protection of running VMs (\`tests/bench/protect_vm.sh\`)"
	echo
	echo "The two VMs of plans/vm under \`lifeboat protect\` (replicate_every: 10s, changed-block tracking,"
	echo "each VM paused and its file systems frozen for its own sync) while the database VM writes new"
	echo "random data, about $rate MiB/s (4 × 256 KiB fsynced each second), for $SECONDS_WANTED s ($rounds replicate rounds)."
	echo "Point age sampled every second ($samples samples): the db disk's newest point was at most"
	echo "$dbmax s old (mean $dbmean s; goal: under 30 s), the web VM's at most $webmax s. The db disk's sync"
	echo "(reading what the dirty bitmap marks) took $sync_med s in the median round, $sync_max s at most, under TCG."
} >> "$OUT"
echo "protect_vm: max point age db $dbmax s (mean $dbmean s), web $webmax s over $SECONDS_WANTED s, $rounds rounds, $rate MiB/s written"
