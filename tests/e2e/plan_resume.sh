#!/usr/bin/env bash
# Durable jobs: kill -9 at random moments, then resume. Finished steps
# never run twice (side-effect counters); a step that was running when the
# process died may run again. Ctrl-C leaves a resumable job; a changed
# plan is refused unless --force.
. "$(dirname "$0")/lib.sh"

cat > plan.yaml <<'YAML'
lifeboat: 1
name: durable
max_parallel: 2
machines:
  m1: { prepare: [ { exec: "echo m1 >> effects; sleep 0.15" } ] }
  m2: { prepare: [ { exec: "echo m2 >> effects; sleep 0.15" } ] }
  m3: { prepare: [ { exec: "echo m3 >> effects; sleep 0.15" } ] }
  m4: { prepare: [ { exec: "echo m4 >> effects; sleep 0.15" } ] }
groups:
  - name: g
    machines: [m1, m2, m3, m4]
    before:
      - exec: "echo b1 >> effects; sleep 0.15"
      - exec: "echo b2 >> effects; sleep 0.15"
    after:
      - exec: "echo a1 >> effects; sleep 0.15"
YAML
effect_of() { case $1 in g/before/1) echo b1;; g/before/2) echo b2;; g/after/1) echo a1;;
	g/*/prepare/1) echo "${1#g/}" | cut -d/ -f1;; esac; }

# steps that had started but not finished in a journal
running_steps() {
	"$PYTHON" -c '
import json, sys
state = {}
for l in open(sys.argv[1]):
    try: e = json.loads(l)
    except ValueError: continue
    if "step" in e: state[e["step"]] = e["ev"]
print(" ".join(s for s, ev in state.items() if ev == "start"))' "$1"
}

for round in 1 2 3; do
	rm -rf .lifeboat effects
	delay=$(( (RANDOM % 9) + 1 ))   # 0.1 .. 0.9 s into a ~1 s run
	"$LB_BIN" drill plan.yaml >/dev/null 2>&1 &
	pid=$!
	sleep "0.$delay"
	kill -9 "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
	J=$("$LB_BIN" jobs | tail -1 | cut -d" " -f1)
	allowed=$(running_steps ".lifeboat/jobs/$J/journal.jsonl")
	out=$(lb resume "$J" 2>&1); rc=$?
	if [ "$rc" != 0 ]; then fail "round $round: resume after kill -9 at 0.${delay}s" "exit $rc" "$out"; continue; fi
	bad=""
	for s in g/before/1 g/before/2 g/m1/prepare/1 g/m2/prepare/1 g/m3/prepare/1 g/m4/prepare/1 g/after/1; do
		e=$(effect_of "$s"); n=$(grep -cx "$e" effects)
		max=1; [[ " $allowed " == *" $s "* ]] && max=2
		{ [ "$n" -ge 1 ] && [ "$n" -le "$max" ]; } || bad="$bad $s:$n(max $max)"
	done
	[ -z "$bad" ] && pass "round $round: kill -9 at 0.${delay}s, resume: every step ran, finished ones once (rerun: ${allowed:-none})" \
		|| fail "round $round: side effects after resume" "$bad" "$(cat effects | tr '\n' ' ')"
	state=$(lb job "$J" | head -1)
	[[ $state == *", done ("* ]] && pass "round $round: the job is done" || fail "round $round: job state" "$state"
done

# Ctrl-C: running steps stop, the job is resumable
rm -rf .lifeboat effects
sed 's/sleep 0.15/sleep 30/' plan.yaml > slow.yaml
"$LB_BIN" drill slow.yaml >out.txt 2>&1 &
pid=$!
for _ in $(seq 50); do grep -q b1 effects 2>/dev/null && break; sleep 0.1; done
kill -INT "$pid"; wait "$pid"; rc=$?
[ "$rc" = 130 ] && pass "Ctrl-C: exit 130" || fail "Ctrl-C exit" "exit $rc" "$(cat out.txt)"
grep -q "resume" out.txt && pass "Ctrl-C: says how to resume" || fail "Ctrl-C message" "$(cat out.txt)"
pgrep -x -f "sleep 30" >/dev/null && fail "Ctrl-C: the step's process still runs" || pass "Ctrl-C: the step's process is stopped"
J=$("$LB_BIN" jobs | tail -1 | cut -d" " -f1)
[[ $(lb job "$J") == *"interrupted"*"cancelled"*"g/before/1"* ]] && pass "Ctrl-C: job interrupted, step cancelled" \
	|| fail "Ctrl-C job state" "$(lb job "$J")"

# a changed plan is refused unless --force
echo "# changed" >> slow.yaml
sed -i 's/sleep 30/true/' slow.yaml
expect 2 "*plan*changed since job*--force*" "resume refuses a changed plan" lb resume "$J"
out=$(lb resume "$J" --force 2>&1); rc=$?
[ "$rc" = 0 ] && pass "resume --force runs the changed plan" || fail "resume --force" "exit $rc" "$out"
out=$(lb resume "$J" 2>&1); rc=$?
[ "$rc" = 0 ] && [[ $out == *"already done"* ]] && pass "resume of a done job says so" || fail "resume done" "$out"
expect 2 "*no job 'nope'*" "resume of an unknown job" lb resume nope
expect 2 "*no job*" "resume of a path-like id" lb resume ../../etc

# two jobs on one plan at once: the second is refused
"$LB_BIN" drill plan.yaml >/dev/null 2>&1 &
pid=$!
sleep 0.2
expect 2 "*another lifeboat job is running on this plan*" "a second job on the same plan is refused" lb drill plan.yaml
wait "$pid"

# a torn last journal line (kill -9 during a write) is ignored, and the
# next write starts a clean line
for tail in '{"ev":"start","step":"g/after/1","att' '{"ev":"resumed","t":1}'; do
	rm -rf .lifeboat effects
	sed 's/sleep 0.15/true/' plan.yaml > torn.yaml
	lb drill torn.yaml >/dev/null 2>&1
	J=$("$LB_BIN" jobs | tail -1 | cut -d" " -f1)
	jl=.lifeboat/jobs/$J/journal.jsonl
	grep -v '"ev":"state"' "$jl" | grep -v '"step":"g/after/1"' > torn.jsonl
	printf '%s' "$tail" >> torn.jsonl
	mv torn.jsonl "$jl"
	what=$([[ $tail == *'"att' ]] && echo "torn" || echo "unterminated")
	[[ $(lb jobs) == *"$J"* ]] && pass "$what last line: jobs lists the job" || fail "$what last line: jobs" "$(lb jobs 2>&1)"
	check "$what last line: job ID reads it" lb job "$J"
	out=$(lb resume "$J" 2>&1); rc=$?
	[ "$rc" = 0 ] && pass "$what last line: resume finishes the job" || fail "$what last line: resume" "exit $rc" "$out"
	check "$what last line: every journal line is JSON after resume" "$PYTHON" -c '
import json, sys
for l in open(sys.argv[1]): json.loads(l)' "$jl"
	[[ $(lb job "$J" | head -1) == *", done ("* ]] && pass "$what last line: the job is done" || fail "$what last line: state" "$(lb job "$J")"
done
