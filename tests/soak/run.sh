#!/usr/bin/env bash
# make soak: `lifeboat protect` runs ROUNDS (default 1000) replicate rounds
# of a small plan on the local provider, one every 100 ms; its resident
# memory and open file descriptors are read after round 10 and at the
# end, and what it leaves running is counted. Not part of make test.
#   ROUNDS=1000   SOAK_DIR=/tmp/lifeboat-soak (scratch)
set -eu
cd "$(dirname "$0")/../.."
LB=$PWD/${BUILD:-build}/lifeboat
ROUNDS=${ROUNDS:-1000}
W=${SOAK_DIR:-/tmp/lifeboat-soak}
rm -rf "$W"; mkdir -p "$W"; cd "$W"
cat > plan.yaml <<'YAML'
lifeboat: 1
name: soak
store: replica
policy: { rpo_threshold: 1m, replicate_every: 100ms, retention: 2s }
alerts:
  - command: "true"
sites:
  primary: { provider: local, root: site-a }
  recovery: { provider: local, root: site-b }
machines:
  app:
    datasets:
      - { name: data, kind: tree, path: data }
      - { name: disk, kind: image, path: disk.img }
groups:
  - name: g
    machines: [app]
YAML
mkdir -p site-a/app/data
for i in $(seq 20); do head -c 20000 /dev/urandom > site-a/app/data/f$i; done
head -c 4M /dev/urandom > site-a/app/disk.img
"$LB" protect plan.yaml --metrics 0 >/dev/null 2>&1 || true # (bad input: nothing to measure)
"$LB" protect plan.yaml > service.log 2>&1 &
pid=$!
rounds() { grep -c '^job .* done in' service.log || true; }
sample() { echo "$(awk '/VmRSS/ {print $2}' /proc/$pid/status) $(ls /proc/$pid/fd | wc -l)"; }
t0=$(date +%s)
while [ "$(rounds)" -lt 10 ]; do sleep 0.2; done
while [ "$(rounds)" -lt "$ROUNDS" ]; do
	sleep 1
	kill -0 $pid || { echo "soak: the service died"; tail service.log; exit 1; }
	echo "$(date +%s) $(rounds) $(sample)" >> samples.txt
done
# a sample may fall inside a job (its pipes open): compare the first ten
# samples with the last ten, by their lowest descriptor count and highest RSS
first=$(head -10 samples.txt) last=$(tail -10 samples.txt)
fd0=$(awk '{print $4}' <<< "$first" | sort -n | head -1) fd1=$(awk '{print $4}' <<< "$last" | sort -n | head -1)
rss0=$(awk '{print $3}' <<< "$first" | sort -n | tail -1) rss1=$(awk '{print $3}' <<< "$last" | sort -n | tail -1)
kill -TERM $pid; wait $pid || true
failed=$(grep -c '^job .* failed' service.log || true)
left=$(pgrep -f "$W" | wc -l || true)
max_rss=$(awk '{print $3}' samples.txt | sort -n | tail -1)
echo "soak: $(rounds) rounds in $(( $(date +%s) - t0 )) s, $failed failed; RSS ${rss0} KiB over the first ten seconds, ${rss1} KiB over the last ten (max ${max_rss}); open fds $fd0 -> $fd1; processes left after SIGTERM $left"
[ "$failed" = 0 ] && [ "$left" = 0 ] && [ "$fd1" -le "$fd0" ] && [ "$rss1" -le $((rss0 * 3 / 2)) ]
