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
grep -q "first drill <after> the move" "$md" && grep -q "first drill &lt;after&gt; the move" ".lifeboat/jobs/$J/report.html" \
	&& grep -q "Not signed off" "$md" && pass "drill --note is in the report (escaped in HTML); not signed off yet" || fail "--note" "$(tail "$md")"

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
