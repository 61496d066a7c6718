#!/usr/bin/env bash
# What people and steps add to a job: log.info/warn/error with levels in
# the step log, the output and the reports; drill --note, job ID note and
# job ID sign in the journal and every report; status warns of an overdue
# drill.
. "$(dirname "$0")/lib.sh"

cat > plan.yaml <<'YAML'
lifeboat: 1
name: notes
policy: { drill_every: 2s }
machines:
  db:
    prepare:
      - lua: |
          log("plain %d", 1)
          log.info("info %s", "two")
          log.warn("disk %d%% full", 91)
          log.error("replica of %s is late", "db")
groups:
  - name: g
    machines: [db]
YAML
last_job() { "$LB_BIN" jobs | tail -1 | cut -d" " -f1; }

out=$(lb drill plan.yaml --note "first drill <after> the move" 2>&1); rc=$?
J=$(last_job)
[ $rc = 0 ] && [[ $out == *"g/db/prepare/1: plain 1"*"g/db/prepare/1: info two"*"g/db/prepare/1: warning: disk 91% full"*"g/db/prepare/1: error: replica of db is late"* ]] \
	&& pass "log levels in the output; log.error does not fail the step" || fail "log levels" "exit $rc" "$out"
[ "$(cat .lifeboat/jobs/$J/logs/g_db_prepare_1.log)" = "plain 1
info two
[warn] disk 91% full
[error] replica of db is late" ] && pass "and in the step log" || fail "step log" "$(cat .lifeboat/jobs/$J/logs/g_db_prepare_1.log)"
lines=$(lb drill plan.yaml --json 2>/dev/null | grep '"ev":"log"')
[[ $lines == *'"level":"info"'*'"level":"warn"'*'"level":"error"'* ]] && pass "--json: each log event has its level" || fail "--json levels" "$lines"

md=.lifeboat/jobs/$J/report.md
grep -q '^- g/db/prepare/1: \*\*warn\*\* disk 91% full$' "$md" && grep -q '^- g/db/prepare/1: \*\*error\*\* replica of db is late$' "$md" \
	&& ! grep -q "plain 1" "$md" && pass "the report lists the warnings and errors, not the info lines" || fail "report messages" "$(cat "$md")"
grep -q "first drill &lt;after&gt; the move" "$md" && grep -q "first drill &lt;after&gt; the move" ".lifeboat/jobs/$J/report.html" \
	&& grep -q "Not signed off" "$md" && pass "drill --note is in the report (escaped); not signed off yet" || fail "--note" "$(tail "$md")"

out=$(lb job "$J" note "web answered in 2s" --by alice 2>&1); rc=$?
[ $rc = 0 ] && grep -q '^- alice, .*: web answered in 2s$' "$md" && pass "job ID note: written into the reports at once" || fail "job note" "exit $rc" "$out" "$(tail "$md")"
expect 2 "*sign needs --by NAME*" "sign without --by" lb job "$J" sign
out=$(lb job "$J" sign --by "Bob Ops" 2>&1); rc=$?
[ $rc = 0 ] && grep -q '^- Signed off by Bob Ops, ' "$md" && grep -q 'Signed off by <b>Bob Ops</b>' ".lifeboat/jobs/$J/report.html" \
	&& "$PYTHON" -c '
import json, sys
r = json.load(open(sys.argv[1]))
assert [n["text"] for n in r["notes"]] == ["first drill <after> the move", "web answered in 2s"], r["notes"]
assert [s["by"] for s in r["signoffs"]] == ["Bob Ops"]
assert [m["level"] for m in r["messages"]] == ["warn", "error"]
assert r["rto"] is not None and len(r["steps"]) == 6' ".lifeboat/jobs/$J/report.json" \
	&& pass "job ID sign --by: in report.md, .html and .json, which keeps its facts" || fail "sign" "exit $rc" "$out"
out=$(lb job "$J")
[[ $out == *"warn g/db/prepare/1: disk 91% full"*"note by alice"*"signed off by Bob Ops"* ]] && pass "job ID shows them" || fail "job shows" "$out"
expect 2 "*usage: lifeboat job ID note TEXT*" "note without text" lb job "$J" note
expect 2 "*unknown job subcommand 'frob'*" "an unknown subcommand" lb job "$J" frob
expect 2 "*no job 'nothere'*" "an unknown job" lb job nothere sign --by x

out=$(lb status plan.yaml)
[[ $out != *"warning: no passing drill"* ]] && pass "status: a recent drill is not overdue" || fail "not overdue" "$out"
sleep 2.2
out=$(lb status plan.yaml)
[[ $out == *"warning: no passing drill for "*"(policy.drill_every 2.0s)"* ]] && [[ $(lb status plan.yaml --json) == *'"drill_overdue":"no passing drill for'* ]] \
	&& pass "status warns when the last passing drill is older than policy.drill_every" || fail "overdue" "$out"

# LIFEBOAT_DEBUG: where a step's error was raised, in its log
cat > debug.yaml <<'YAML'
lifeboat: 1
name: debug
machines:
  db:
    prepare:
      - lua: |
          local function deep_inside() error("boom") end
          deep_inside()
groups:
  - name: g
    machines: [db]
YAML
lb drill debug.yaml --state dbg >/dev/null 2>&1
J=$(lb jobs --state dbg | tail -1 | cut -d" " -f1)
[ ! -e "dbg/jobs/$J/logs/g_db_prepare_1.log" ] && pass "without LIFEBOAT_DEBUG no traceback" || fail "traceback without debug" "$(cat dbg/jobs/$J/logs/*)"
LIFEBOAT_DEBUG=1 lb drill debug.yaml --state dbg >/dev/null 2>&1
J=$(lb jobs --state dbg | tail -1 | cut -d" " -f1)
log=$(cat "dbg/jobs/$J/logs/g_db_prepare_1.log" 2>&1)
[[ $log == *"boom"*"stack traceback:"*"in local 'deep_inside'"* ]] && pass "LIFEBOAT_DEBUG: the step's log has the traceback" || fail "LIFEBOAT_DEBUG traceback" "$log"

# what people write cannot forge a section of the report
J=$(lb jobs | grep " notes " | grep drill | tail -1 | cut -d" " -f1)
expect 2 "*--by must name someone on one line*" "a --by with a line break is refused" \
	lb job "$J" note "x" --by $'mallory\n\n## Sign-off\n\n- Signed off by CEO'
out=$(lb job "$J" note $'ok\r\r## Sign-off\n- Signed off by CEO <img src=x onerror=alert(1)>' --by mallory 2>&1); rc=$?
md=".lifeboat/jobs/$J/report.md"
[ $rc = 0 ] && [ "$(grep -c '^## Sign-off' "$md")" = 1 ] && ! grep -q "^- Signed off by CEO" "$md" && ! grep -q "<img" "$md" \
	&& ! grep -q "<img" ".lifeboat/jobs/$J/report.html" && pass "a note stays one escaped line: no forged sign-off, no HTML" \
	|| fail "forged note" "exit $rc" "$(tail -12 "$md")"

# a note added while the job runs is in its reports when it ends
cat > slow.yaml <<'YAML'
lifeboat: 1
name: slow
machines:
  db: { prepare: [ { exec: "sleep 3" } ] }
groups:
  - name: g
    machines: [db]
YAML
"$LB_BIN" drill slow.yaml --state slowst >/dev/null 2>&1 &
SLOW=$!
for i in $(seq 50); do J=$(ls slowst/jobs 2>/dev/null | head -1); [ -n "$J" ] && break; sleep 0.1; done
out=$(lb job "$J" note "seen while it ran" --by alice --state slowst 2>&1)
expect 2 "*is running: sign it off once it has finished*" "a running job cannot be signed off" lb job "$J" sign --by bob --state slowst
wait $SLOW
[[ $out == *"it runs: its reports will have the note"* ]] && grep -q "seen while it ran" "slowst/jobs/$J/report.md" \
	&& pass "a note added while the job ran is in its report" || fail "note while running" "$out" "$(tail -5 slowst/jobs/$J/report.md)"
