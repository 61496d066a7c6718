#!/usr/bin/env bash
# Running plans on the noop provider: order of groups and actions,
# parallelism limits, depends_on, only:, retries, timeouts, on_error,
# dry runs that change nothing, show/--dot/--json, jobs and job.
. "$(dirname "$0")/lib.sh"

steps_started() { # JOB_ID -> step ids in the order they started
	"$PYTHON" -c '
import json, sys
for l in open(sys.argv[1]):
    e = json.loads(l)
    if e.get("ev") == "start": print(e["step"])' ".lifeboat/jobs/$1/journal.jsonl"
}
last_job() { "$LB_BIN" jobs | tail -1 | cut -d" " -f1; }

cat > order.yaml <<'YAML'
lifeboat: 1
name: order
max_parallel: 2
machines:
  db: {}
  m1: { prepare: [ { exec: "sh ../par.sh" } ] }
  m2: { prepare: [ { exec: "sh ../par.sh" } ] }
  m3: { prepare: [ { exec: "sh ../par.sh" } ] }
  m4: { prepare: [ { exec: "sh ../par.sh" } ] }
  web: { depends_on: [m1] }
groups:
  - name: data
    machines: [db]
    after:
      - exec: echo data-after >> ../events
  - name: apps
    machines: [m1, m2, m3, m4]
    before:
      - exec: echo apps-before >> ../events
      - exec: echo only-failover >> ../events
        only: [failover]
  - name: front
    machines: [web]
YAML
mkdir run && cd run || exit 1
cat > ../par.sh <<'SH'
mkdir -p ../running; touch ../running/$$
n=$(ls ../running | wc -l); echo $n >> ../concurrency
sleep 0.3; rm ../running/$$
SH
cp ../order.yaml plan.yaml
check "drill of a noop plan" lb drill plan.yaml
J=$(last_job)
order=$(steps_started "$J" | tr '\n' ' ')
[[ $order == "data/db/restore data/db/start data/db/health data/after/1 apps/before/1 "* ]] \
	&& pass "groups in order, after-actions after the group, before-actions before the next" \
	|| fail "groups in order" "$order"
[[ $order == *"front/web/restore"* ]] && [[ $order != *"only-failover"* ]] && pass "only: skips actions of other operations" || fail "only:" "$order"
[ "$(grep -c only-failover ../events)" = 0 ] && pass "only: the failover-only action did not run" || fail "only: ran"
max=$(sort -n ../concurrency | tail -1)
[ "$max" = 2 ] && pass "max_parallel 2: machines ran two at a time" || fail "max_parallel" "max concurrency $max"
"$PYTHON" - ".lifeboat/jobs/$J/journal.jsonl" <<'PY' && pass "depends_on: web starts after m1 is healthy" || fail "depends_on"
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1])]
t = {(e["ev"], e.get("step")): i for i, e in enumerate(ev)}
sys.exit(0 if t[("done", "apps/m1/health")] < t[("start", "front/web/restore")] else 1)
PY
[[ $order == *"cleanup/web/stop"*"cleanup/m1/stop"*"cleanup/db/stop"* ]] && pass "drill cleans up in reverse group order" \
	|| fail "cleanup order" "$order"

out=$(lb jobs)
[[ $out == *"$J"*"order"*"drill"*"done"* ]] && pass "jobs lists the job" || fail "jobs" "$out"
out=$(lb job "$J")
[[ $out == *"done"*"apps/m3/prepare/1"* ]] && pass "job shows the steps" || fail "job" "$out"
check "job --json" bash -c "$LB_BIN job $J --json | $PYTHON -c 'import json,sys; d=json.load(sys.stdin); assert d[\"state\"]==\"done\" and len(d[\"steps\"])>20'"
check "--json events are JSON lines" bash -c "$LB_BIN drill plan.yaml --json | $PYTHON -c '
import json,sys
evs=[json.loads(l) for l in sys.stdin]
assert evs[-1][\"ev\"]==\"end\" and evs[-1][\"state\"]==\"done\", evs[-1]'"

# dry run: prints the steps and what they would do, creates nothing
rm -rf .lifeboat ../events
out=$(lb failover plan.yaml --planned --dry-run); rc=$?
[ "$rc" = 0 ] && [[ $out == *"dry run"*"shutdown/web/stop"*"final/db/sync"*"only-failover"* ]] \
	&& pass "failover --planned --dry-run prints the steps" || fail "dry run" "exit $rc" "$out"
[ ! -e .lifeboat ] && [ ! -e ../events ] && pass "dry run changed nothing" || fail "dry run changed something"

out=$(lb show plan.yaml --dot)
[[ $out == "digraph"*"\"apps/m1/health\" -> \"front/web/restore\""* ]] && pass "show --dot has the depends_on edge" \
	|| fail "show --dot" "$out"
check "show --json" bash -c "$LB_BIN show plan.yaml --op failover --json | $PYTHON -c 'import json,sys; d=json.load(sys.stdin); assert d[\"op\"]==\"failover\"'"
out=$(lb show plan.yaml)
[[ $out == *"wave 6 (4 in parallel, 2 machines at a time)"* ]] && pass "show marks what runs in parallel" || fail "show waves" "$out"
expect 2 "*unknown operation 'explode'*" "show --op with a bad operation" lb show plan.yaml --op explode
expect 2 "*--planned is for failover*" "--planned on a drill" lb drill plan.yaml --planned

# retries, timeouts, on_error
cd .. && mkdir errs && cd errs || exit 1
cat > plan.yaml <<'YAML'
lifeboat: 1
name: errs
machines:
  m: {}
groups:
  - name: g
    machines: [m]
    before:
      - name: flaky
        exec: test -f flag || { touch flag; exit 1; }
        retries: 2
      - name: loop forever
        lua: while true do end
        timeout: 500ms
        on_error: continue
      - name: loop with pcall
        lua: while true do pcall(function() while true do end end) end
        timeout: 300ms
        on_error: continue
      - name: slow process
        exec: sleep 20
        timeout: 300ms
        on_error: continue
YAML
start=$(date +%s)
out=$(lb drill plan.yaml); rc=$?
[ "$rc" = 1 ] && [[ $out == *"done with failures in "*": g/before/2, g/before/3, g/before/4 failed (on_error: continue)"* ]] \
	&& pass "continue: the job finishes after failing steps, done with failures and exit 1" || fail "on_error continue" "exit $rc" "$out"
J=$(last_job)
[[ $(lb jobs) == *"$J"*"drill"*"done with failures"* ]] && [[ $(lb job "$J") == *"drill of "*", done with failures ("* ]] \
	&& [[ $(lb job "$J" --json) == *'"failures":3'*'"state":"done"'* ]] \
	&& pass "jobs and job say done with failures (--json: state done, failures 3)" || fail "jobs: done with failures" "$(lb jobs; lb job "$J" --json)"
[[ $(lb status plan.yaml) == *"last passing drill: none"*"last drill FAILED: $J"* ]] \
	&& pass "a drill done with failures is not a passing drill" || fail "drill with failures passed" "$(lb status plan.yaml)"
grep -q '^# drill of .*: done with failures' ".lifeboat/jobs/$J/report.md" && pass "the report says done with failures" \
	|| fail "report: done with failures" "$(head -3 .lifeboat/jobs/$J/report.md)"
[ $(( $(date +%s) - start )) -lt 10 ] && pass "timeouts stop an infinite loop, a pcall loop and a process" || fail "timeouts too slow"
[[ $out == *"retry  g/before/1"*"done   g/before/1"* ]] && pass "retries: a flaky step passes on its second attempt" \
	|| fail "retries" "$out"
[[ $out == *"timed out after 500ms"*"timed out after 300ms"* ]] && pass "a timed out step says so" || fail "timeout message" "$out"
pgrep -x -f "sleep 20" >/dev/null && fail "the timed out process is still running" || pass "the timed out process is gone"

sed -i 's/on_error: continue/on_error: abort/' plan.yaml
rm -f flag
out=$(lb drill plan.yaml); rc=$?
[ "$rc" = 1 ] && [[ $out == *"failed: g/before/2: timed out"* ]] && pass "abort: the job fails with the step's error (exit 1)" \
	|| fail "on_error abort" "exit $rc" "$out"
J=$(last_job)
[[ $(lb job "$J") != *"g/m/restore"* ]] && pass "abort: no later step ran" || fail "abort ran later steps"
sed -i '0,/on_error: abort/s//on_error: pause/' plan.yaml
rm -f flag
out=$(lb drill plan.yaml); rc=$?
[ "$rc" = 3 ] && pass "pause: the job pauses (exit 3)" || fail "on_error pause" "exit $rc" "$out"

# plan-local actions and providers run in the sandbox, beside the plan
cd .. && mkdir local && cd local || exit 1
mkdir -p actions providers
cat > actions/stamp.lua <<'LUA'
return {
  check = function(with) if not with.file then return "'file' is required" end end,
  run = function(with) fs.write(with.file, "stamped"); return { io_seen = io ~= nil } end,
}
LUA
cat > providers/paper2.lua <<'LUA'
local P = { name = "paper2" }
function P.dataset_path(site, m, ds) return "paper2:" .. m.name end
for _, what in ipairs({ "sync", "restore", "start", "stop", "remove", "health", "forget" }) do
  P[what] = function(ctx) fs.write(ctx.machine_view.name .. "." .. what, what); return {} end
end
function P.running() return false end
return P
LUA
cat > plan.yaml <<'YAML'
lifeboat: 1
name: local
sites:
  primary: { provider: noop }
  recovery: { provider: noop }
  drill: { provider: paper2 }
machines:
  m:
    prepare:
      - uses: ./actions/stamp.lua
        with: { file: stamped.txt }
groups:
  - name: g
    machines: [m]
YAML
check "a plan with its own action and provider validates" lb validate plan.yaml
check "and drills" lb drill plan.yaml
[ "$(cat stamped.txt)" = stamped ] && [ -f m.start ] && [ -f m.remove ] && pass "the plan's action and provider ran" \
	|| fail "plan-local modules" "$(ls)"
grep -q '"io_seen":false' .lifeboat/jobs/*/journal.jsonl && pass "a plan's own action runs in the sandbox (no io)" \
	|| fail "plan-local action sandbox"
sed 's/with: { file: stamped.txt }/with: { nofile: 1 }/' plan.yaml > bad.yaml
expect 2 "*bad.yaml:1[0-9]:*./actions/stamp.lua: 'file' is required*" "a plan's own action checks its with:" lb validate bad.yaml

# bad input to the job and script commands: one line, exit 2, nothing changed
expect 2 "*no job 'nope'*" "job of an unknown id" lb job nope
expect 2 "*no job 'nope'*" "report of an unknown id" lb report nope
expect 2 "*no job 'nope'*" "approve of an unknown id" lb approve nope
expect 2 "*a job id is needed*" "job without an id" lb job
expect 2 "*unknown option '--fast'*" "an unknown option on an operation" lb drill plan.yaml --fast
expect 2 "*one plan file is needed*" "status without a plan" lb status
expect 2 "*--point needs a value*" "an option without its value" lb failover plan.yaml --point
expect 2 "*No such file*" "run of a missing script" lb run nothere.lua
printf 'local x = = 1\n' > broken.lua
expect 2 "*broken.lua:1:*unexpected symbol*" "run of a script with a syntax error" lb run broken.lua
printf 'error("boom")\n' > boom.lua
expect 1 "*boom.lua:1: boom*" "run of a script that raises: exit 1" lb run boom.lua
check "jobs of an empty state folder" bash -c "$LB_BIN jobs --state $PWD/none | grep -q 'no jobs'"

# a command's output with terminal control sequences (retitle, clear the
# screen, hide text): the job's output and `job` show them as \xNN, and the
# step's log keeps the bytes as they were
cat > escapes.yaml <<'YAML'
lifeboat: 1
name: escapes
machines:
  m:
    prepare:
      - lua: log("from lua \27[8mhidden\27[0m")
      - exec: "printf 'bad \\033]0;pwned\\007\\033[2J\\033[8m' >&2; exit 1"
groups: [ { name: g, machines: [m] } ]
YAML
out=$("$LB_BIN" drill escapes.yaml 2>&1); rc=$?
J=$(last_job)
jobout=$("$LB_BIN" job "$J" 2>&1)
esc=$(printf '\033')
[ "$rc" = 1 ] && [[ $out != *"$esc"* ]] && [[ $out == *'bad \x1b]0;pwned\x07\x1b[2J'* ]] && [[ $out == *'from lua \x1b[8mhidden'* ]] \
	&& pass "control sequences in a step's error and log are shown as \\xNN, not sent to the terminal" || fail "escapes in the output" "exit $rc" "$out"
[[ $jobout != *"$esc"* ]] && [[ $jobout == *'\x1b[2J'* ]] && pass "and in 'job'" || fail "escapes in job" "$jobout"
grep -rqF "$esc[2J" ".lifeboat/jobs/$J/logs" && pass "the step's log keeps the bytes" || fail "the log keeps the bytes" "$(ls .lifeboat/jobs/$J/logs)"
