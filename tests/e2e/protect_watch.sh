#!/usr/bin/env bash
# lifeboat protect watches the tree datasets it replicates from this host:
# after the first round (every folder listed) a sync lists only the folders
# that changed, new folders and folders moved inside the tree included,
# and every point restores to what the folder held; when the watcher loses
# track (more events than the kernel queues while the service is stopped)
# the next sync lists every folder and the one after goes back to the
# changed ones; a folder whose path names another folder is watched anew.
. "$(dirname "$0")/lib.sh"

cat > plan.yaml <<'YAML'
lifeboat: 1
name: watched
store: replica
policy: { rpo_threshold: 1m, replicate_every: 1s, app_consistent_every: 100ms }
sites:
  primary: { provider: local, root: site-a }
  recovery: { provider: local, root: site-b }
machines:
  app:
    datasets:
      - { name: data, kind: tree, path: data }
    # written in place (the folder's own mtime stays): only the watcher can tell
    quiesce: { before: "date +%s%N > site-a/app/data/d5/s/stamp" }
groups:
  - name: g
    machines: [app]
YAML
D=site-a/app/data
for i in $(seq 1 30); do mkdir -p "$D/d$i/s"; echo "$i" > "$D/d$i/s/f"; done
"$LB_BIN" protect plan.yaml > protect.log 2>&1 &
PID=$!
trap 'kill -9 $PID 2>/dev/null; cleanup_work' EXIT
rounds() { grep -c '^job .* done in' protect.log; }
# wait_rounds N: until N more rounds are done (at most 30 s)
wait_rounds() {
	local want=$(( $(rounds) + $1 ))
	for _ in $(seq 300); do [ "$(rounds)" -ge "$want" ] && return 0; sleep 0.1; done
	return 1
}
# listed_some: a round listed between 1 and 3 folders (the changed one, its parent, the root)
listed_some() { grep -q 'listed [123] folder(s)' protect.log; }
newest_matches() { # the newest point restores to what the folder holds now
	rm -rf out
	lb restore --store replica app/data out >/dev/null 2>&1 && diff -r -x stamp "$D" out >/dev/null
}
# stop_after_round: stops the service right after a round ends, before the next one starts
stop_after_round() {
	local n; n=$(rounds)
	for _ in $(seq 1500); do [ "$(rounds)" -gt "$n" ] && break; sleep 0.02; done
	kill -STOP $PID
}

wait_rounds 2
# the first round lists every folder: one round more than rounds that listed the changed ones
first_full=$(( $(rounds) - $(grep -c 'listed' protect.log) ))
echo changed > "$D/d7/s/f"
wait_rounds 2
if [ "$first_full" = 1 ] && listed_some; then
	pass "the first round lists every folder, a later one only the changed ones"
else fail "watched rounds list only the changed folders" "$(tail -20 protect.log)"; fi

# the quiesce hook writes into the tree before each sync: the point has what it wrote
stop_after_round
rm -rf out; lb restore --store replica app/data out >/dev/null 2>&1
if cmp -s "$D/d5/s/stamp" out/d5/s/stamp; then pass "what the quiesce hook wrote is in that round's point"
else fail "what the quiesce hook wrote is in that round's point" "on disk $(cat "$D/d5/s/stamp"), in the point $(cat out/d5/s/stamp 2>&1)"; fi
kill -CONT $PID

# a new folder tree, then moved elsewhere inside the watched folder
kill -STOP $PID
mkdir -p "$D/d3/new/deeper" && echo n > "$D/d3/new/deeper/x"
kill -CONT $PID; wait_rounds 2
mv "$D/d3/new" "$D/d12/s/moved" && echo after-move > "$D/d12/s/moved/deeper/y"
wait_rounds 2
kill -STOP $PID; wait_rounds 0
if newest_matches; then pass "new and moved folders are in the points"
else fail "new and moved folders are in the points" "$(diff -r "$D" out 2>&1 | head)"; fi
kill -CONT $PID

# more events than the kernel queues while the service cannot read them
kill -STOP $PID
$PYTHON - "$D/d1/s/f" "$D/d2/s/f" <<'PY'
import os, sys
for i in range(20000): os.utime(sys.argv[1 + i % 2], (i, i))
PY
echo late > "$D/d20/s/f"
kill -CONT $PID
wait_rounds 3
if grep -q 'the watcher lost track (more changes came at once' protect.log && newest_matches; then
	pass "an overflowed queue: the watcher says so, the next sync lists every folder and the point is whole"
else fail "an overflowed queue leads to a full listing" "$(grep -i 'watch\|lost' protect.log | tail -5)"; fi
before=$(grep -c 'listed' protect.log)
echo again > "$D/d21/s/f"
wait_rounds 2
[ "$(grep -c 'listed' protect.log)" -gt "$before" ] && pass "after the full listing, syncs list the changed folders again" ||
	fail "syncs list the changed folders again" "$(tail -10 protect.log)"
# the folder's parent replaced by a copy (no event on the watched folder
# itself): watched anew, later changes in the copy are seen
kill -STOP $PID
mv site-a/app site-a/app.old && cp -a site-a/app.old site-a/app
kill -CONT $PID; wait_rounds 2
echo in-the-copy > "$D/d22/s/f" && echo not-watched > site-a/app.old/data/d23/s/f
wait_rounds 2
kill -STOP $PID; wait_rounds 0
if newest_matches; then pass "a replaced folder is watched anew: a change in it is in the next point"
else fail "a replaced folder is watched anew" "$(diff -r "$D" out 2>&1 | head -5)" "$(grep -i 'lost' protect.log | tail -3)"; fi
kill -CONT $PID
kill -TERM $PID; wait $PID
newest_matches && pass "the last point restores to the folder" || fail "the last point restores" "$(diff -r "$D" out 2>&1 | head)"
echo "1..$T_N"
