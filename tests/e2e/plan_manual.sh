#!/usr/bin/env bash
# Manual steps: a prompt on a terminal; without one the job pauses (exit 3)
# until `approve` + `resume`; --yes approves all; a timeout with
# on_timeout approves or aborts; an approval from another shell is seen
# while the job waits.
. "$(dirname "$0")/lib.sh"

plan() { # TIMEOUT_LINES...
	cat > plan.yaml <<YAML
lifeboat: 1
name: manual
machines:
  m: {}
groups:
  - name: g
    machines: [m]
    before:
      - manual: Lower the DNS TTL
$(for l in "$@"; do echo "        $l"; done)
YAML
}
last_job() { "$LB_BIN" jobs | tail -1 | cut -d" " -f1; }

plan
out=$(lb drill plan.yaml </dev/null); rc=$?
J=$(last_job)
[ "$rc" = 3 ] && [[ $out == *"paused at g/before/1"*"lifeboat approve $J"* ]] && pass "no terminal: the job pauses (exit 3)" \
	|| fail "pause" "exit $rc" "$out"
[[ $(lb jobs) == *"$J"*paused* ]] && pass "jobs shows it paused" || fail "jobs paused"
out=$(lb resume "$J" </dev/null); rc=$?
[ "$rc" = 3 ] && pass "resume without approval pauses again" || fail "resume unapproved" "exit $rc"
expect 2 "*has no step 'g/nope'*" "approve of an unknown step" lb approve "$J" g/nope
out=$(lb approve "$J"); [[ $out == *"approved g/before/1"* ]] && pass "approve ID approves the waiting step" || fail "approve" "$out"
out=$(lb resume "$J" </dev/null); rc=$?
[ "$rc" = 0 ] && pass "approve + resume finishes the job" || fail "resume approved" "exit $rc" "$out"

out=$(lb drill plan.yaml --yes </dev/null); rc=$?
J=$(last_job)
[ "$rc" = 0 ] && grep -q '"approved":"--yes"' ".lifeboat/jobs/$J/journal.jsonl" && pass "--yes approves, and the journal says so" \
	|| fail "--yes" "exit $rc" "$out"

plan "timeout: 300ms" "on_timeout: approve"
out=$(lb drill plan.yaml </dev/null); rc=$?
[ "$rc" = 0 ] && [[ $out == *"approved (on_timeout: approve)"* ]] && pass "on_timeout: approve" || fail "on_timeout approve" "exit $rc" "$out"
plan "timeout: 300ms" "on_timeout: abort"
out=$(lb drill plan.yaml </dev/null); rc=$?
[ "$rc" = 1 ] && [[ $out == *"no approval within 300ms"* ]] && pass "on_timeout: abort fails the job" || fail "on_timeout abort" "exit $rc" "$out"

plan "timeout: 20s" "on_timeout: abort"
"$LB_BIN" drill plan.yaml </dev/null >out.txt 2>&1 &
pid=$!
for _ in $(seq 50); do grep -q "waiting up to" out.txt && break; sleep 0.1; done
J=$(last_job)
start=$(date +%s)
lb approve "$J" g/before/1 >/dev/null
wait "$pid"; rc=$?
[ "$rc" = 0 ] && [ $(( $(date +%s) - start )) -lt 5 ] && pass "an approval from another shell continues a waiting job" \
	|| fail "approve while waiting" "exit $rc" "$(cat out.txt)"

plan
if command -v script >/dev/null; then
	out=$(printf 'y\n' | script -qec "$LB_BIN drill plan.yaml" /dev/null); rc=$?
	[ "$rc" = 0 ] && [[ $out == *"continue? [y/N]"* ]] && pass "on a terminal: the prompt, answered y" || fail "prompt y" "exit $rc" "$out"
	out=$(printf 'n\n' | script -qec "$LB_BIN drill plan.yaml" /dev/null); rc=$?
	[[ $out == *"not approved at the terminal"* ]] && pass "on a terminal: answered n, the step fails" || fail "prompt n" "$out"
fi
