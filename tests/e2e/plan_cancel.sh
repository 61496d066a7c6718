#!/usr/bin/env bash
# lifeboat cancel: a running drill (cancelled from another shell) stops its
# running step within a second, skips the rest and runs its clean-up; a
# paused one gets its clean-up run by cancel itself. A cancelled job is
# not resumed; done jobs and unknown ids are refused.
. "$(dirname "$0")/lib.sh"

last_job() { "$LB_BIN" jobs | tail -1 | cut -d" " -f1; }
cat > plan.yaml <<'YAML'
lifeboat: 1
name: can
store: replica
sites:
  primary: { provider: local, root: site-a }
  recovery: { provider: local, root: site-b }
  drill: { provider: local, root: site-d }
machines:
  db:
    datasets: [ { name: data, kind: tree, path: data } ]
groups:
  - name: g
    machines: [db]
    after:
      - exec: "sleep 60"
      - manual: "look at the drill"
YAML
mkdir -p site-a/db/data && echo one > site-a/db/data/f
check "replicate" lb replicate plan.yaml

# a running drill, cancelled from another shell
"$LB_BIN" drill plan.yaml > drill.out 2>&1 &
DRILL=$!
for i in $(seq 100); do grep -q "start  g/after/1" drill.out 2>/dev/null && break; sleep 0.1; done
J=$(last_job)
[ -d site-d/db/data ] && pass "the drill restored db and runs its after-action" || fail "drill up" "$(cat drill.out)"
start=$(date +%s%N)
out=$(lb cancel "$J" 2>&1); rc=$?
ms=$(( ($(date +%s%N) - start) / 1000000 ))
wait $DRILL; drc=$?
[ $rc = 0 ] && [[ $out == *"job $J cancelled"* ]] && [ "$ms" -lt 5000 ] && pass "cancel: the running job stopped in ${ms} ms" \
	|| fail "cancel running" "exit $rc after $ms ms" "$out"
[ $drc = 1 ] && [[ $(cat drill.out) == *"cancel  g/after/1"*"(not run: the job was cancelled)"*"done   cleanup/db/remove"* ]] \
	&& pass "its running step was cancelled, the manual step skipped, the clean-up ran (the drill exits 1)" \
	|| fail "cancelled drill output" "exit $drc" "$(cat drill.out)"
[ ! -e site-d/db ] && ! pgrep -f "sleep 60" >/dev/null && pass "nothing is left at the drill site, no process either" \
	|| fail "leftovers" "$(ls -R site-d)"
[[ $(lb jobs) == *"$J"*"cancelled"* ]] && pass "jobs says cancelled" || fail "jobs state" "$(lb jobs)"
expect 2 "*job $J was cancelled: start a new one*" "a cancelled job is not resumed" lb resume "$J"
expect 2 "*job $J is cancelled already*" "cancel twice" lb cancel "$J"

# a paused drill (a manual step, no terminal): cancel runs its clean-up
sed -i '/sleep 60/d' plan.yaml
out=$(lb drill plan.yaml 2>&1); rc=$?
J=$(last_job)
[ $rc = 3 ] && [ -d site-d/db/data ] && pass "the drill paused at its manual step, db up" || fail "pause" "exit $rc" "$out"
out=$(lb cancel "$J" 2>&1); rc=$?
[ $rc = 0 ] && [[ $out == *"skipped"*"g/after/1"* || $out == *"g/after/1"*"the job was cancelled"* ]] && [[ $out == *"done   cleanup/db/remove"* ]] \
	&& [ ! -e site-d/db ] && pass "cancel of a paused job: the manual step is skipped, the clean-up runs here" \
	|| fail "cancel paused" "exit $rc" "$out" "$(ls -R site-d 2>&1)"
st=$(lb status plan.yaml --json | "$PYTHON" -c 'import json,sys; d=json.load(sys.stdin); print(d.get("kept_drill"), d.get("last_passing_drill"))')
[ "$st" = "None None" ] && pass "a cancelled drill is neither kept nor a passing drill" || fail "state after cancel" "$st"

check "a drill with --yes" lb drill plan.yaml --yes
expect 2 "*is done already: there is nothing to cancel*" "a done job cannot be cancelled" lb cancel "$(last_job)"
expect 2 "*no job 'nothere'*" "an unknown job" lb cancel nothere
expect 2 "*--wait must be a duration like 30s, not 'soon'*" "a bad --wait" lb cancel "$J" --wait soon

# a failover cancelled after its fence step: the store gets the plan's state back
cat >> plan.yaml <<'YAML'
    before:
      - exec: "sleep 60"
        only: [failover]
YAML
"$LB_BIN" failover plan.yaml --yes > failover.out 2>&1 &
FO=$!
for i in $(seq 100); do grep -q "start  g/before/1" failover.out 2>/dev/null && break; sleep 0.1; done
J=$(last_job)
[[ $(lb store state can --store replica) == *"failed-over"* ]] && pass "the failover fenced the primary in the store" \
	|| fail "fence before cancel" "$(lb store state can --store replica)"
check "cancel the failover" lb cancel "$J"
wait $FO
[[ $(lb store state can --store replica) == *"protected"* ]] && pass "after the cancel the store says protected again" \
	|| fail "store state after cancel" "$(lb store state can --store replica)"
check "and replicate runs" lb replicate plan.yaml

# a paused job whose plan another job holds: refused, and no request is left behind
sed -i '/^    before:$/,+2d' plan.yaml
out=$(lb drill plan.yaml 2>&1); rc=$?
P=$(last_job)
[ $rc = 3 ] || fail "pause for the lock test" "exit $rc" "$out"
cat > busy.yaml <<'YAML'
lifeboat: 1
name: busy
machines:
  m: { prepare: [ { exec: "sleep 4" } ] }
groups:
  - name: g
    machines: [m]
YAML
"$LB_BIN" drill busy.yaml --state .lifeboat >/dev/null 2>&1 &
BUSY=$!
sleep 1
expect 2 "*job $P is paused, and another job holds the plan's state folder*" "cancel of a paused job while another job runs is refused" \
	lb cancel "$P" --wait 2s
wait $BUSY
[ ! -e ".lifeboat/jobs/$P/cancel" ] && pass "and leaves no request for a later resume" || fail "stale cancel request"
check "approve" lb approve "$P"
out=$(lb resume "$P" --yes 2>&1); rc=$?
[ $rc = 0 ] && [[ $out == *"done   g/after/1"* ]] && pass "the paused job resumes as it was" || fail "resume after refused cancel" "exit $rc" "$out"
