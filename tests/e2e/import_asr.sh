#!/usr/bin/env bash
# lifeboat import asr: an Azure Site Recovery recovery plan becomes a plan
# that validates and runs (groups in order, script, manual and runbook
# actions under the failover types and directions they had), says what it
# could not carry over, and refuses bad input without writing anything.
. "$(dirname "$0")/lib.sh"
FIX=$E2E_DIR/fixtures/asr

# the full example: every group type, action type and failover type
out=$(lb import asr "$FIX/shop.json" -o shop.yaml 2>err); rc=$?
[ $rc = 0 ] && [[ $out == "shop.yaml: plan 'shop-recovery' with 4 machines in 3 groups (5 note(s)"* ]] \
	&& pass "an ASR plan imports: 4 machines in 3 groups" || fail "import shop.json" "exit $rc" "$out" "$(cat err)"
check "the imported plan validates" lb validate shop.yaml
order=$(lb show shop.yaml --op failover --planned --json | "$PYTHON" -c '
import json, sys
d = json.load(sys.stdin)
print(" ".join(s["id"] for s in d["steps"] if s["id"].endswith(("/restore",)) or "/before/" in s["id"] or "/after/" in s["id"]))')
[ "$order" = "group-1/before/1 group-1/sql-01/restore group-1/after/1 group-2/before/1 group-2/app-01/restore group-2/app-02/restore group-2/after/2 group-3/web-01/restore" ] \
	&& pass "planned failover: the Boot groups in order, Shutdown's action first, each action where ASR ran it" \
	|| fail "failover order" "$order"
drill=$(lb show shop.yaml --op drill)
[[ $drill == *"group-1/after/1"*"exec: /opt/shop/check-db.sh"* ]] && [[ $drill == *"group-2/after/1"*"manual: Open https://shop.example/"* ]] \
	&& [[ $drill != *"update-dns"* ]] && [[ $drill != *"group-1/before/1"* ]] \
	&& pass "drill (TestFailover): the test failover's actions only" || fail "drill actions" "$drill"
[[ $(lb show shop.yaml --op failback) == *"group-3/after/1"*"manual: Check the shop answers at the primary again"* ]] \
	&& pass "failback (PlannedFailover RecoveryToPrimary, Failback) runs the failback check" || fail "failback" "$(lb show shop.yaml --op failback)"
for n in "groups[3] (Boot).endGroupActions[2]: action 'mystery' of type 'FabricSpecificActionDetails' has no lifeboat equivalent" \
	"failover type 'ChangePit' has no lifeboat operation" "script C:\\Scripts\\switch-lb.ps1 is a Windows path" \
	"groups[0] (Shutdown): its start actions run after the primary's machines are down"; do
	grep -qF "lifeboat import: not carried over: properties.$n" err 2>/dev/null || grep -qF "not carried over: $n" err \
		|| grep -qF "$n" err || { fail "note on stderr: $n" "$(cat err)"; continue; }
	grep -qF "$n" shop.yaml && pass "stderr and a comment in the plan: ${n:0:60}" || fail "comment: $n" "$(head -20 shop.yaml)"
done
grep -q '^# FILL IN: the secrets RUNBOOK_UPDATE_DNS_WEBHOOK' shop.yaml && grep -q 'http: "${{ secret.RUNBOOK_UPDATE_DNS_WEBHOOK }}"' shop.yaml \
	&& pass "a runbook is a webhook call whose URL is a secret to fill in, clearly marked" || fail "runbook" "$(grep -n -i runbook shop.yaml)"
[[ $(lb show shop.yaml --op drill --json) == *'manual: Open https://shop.example/ and place a test order; ${{ '"'"'${{'"'"' }} not an expression }}'* ]] \
	&& pass "text that looks like an expression stays text" || fail "\${{ in text" "$(grep -n 'not an expression' shop.yaml)"

# a plan that runs: a script, a runbook webhook (a real HTTP server here),
# a manual step, each in the operations ASR ran it in
PORT=$($PYTHON -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat > hook.py <<'PY'
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        open("webhook.log", "ab").write(self.path.encode() + b" " + body + b"\n")
        self.send_response(202); self.end_headers()
    def log_message(self, *a): pass
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
PY
$PYTHON hook.py "$PORT" & HOOK=$!
for i in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break; sleep 0.05; done
trap 'kill $HOOK 2>/dev/null; cleanup_work' EXIT
printf '#!/bin/sh\necho "hook ran" >> %s/events\n' "$PWD" > hook.sh; chmod +x hook.sh
sed "s#@HOOK@#$PWD/hook.sh#" > run.json <<'JSON'
{ "name": "rp2", "type": "Microsoft.RecoveryServices/vaults/replicationRecoveryPlans",
  "properties": { "friendlyName": "two tier", "groups": [
    { "groupType": "Shutdown", "replicationProtectedItems": [], "startGroupActions": [], "endGroupActions": [] },
    { "groupType": "Failover", "replicationProtectedItems": [], "startGroupActions": [], "endGroupActions": [] },
    { "groupType": "Boot", "replicationProtectedItems": [ { "id": "/x/replicationProtectedItems/db", "virtualMachineId": "a" } ],
      "startGroupActions": [], "endGroupActions": [
        { "actionName": "after db", "failoverTypes": ["TestFailover", "PlannedFailover"], "failoverDirections": ["PrimaryToRecovery"],
          "customDetails": { "instanceType": "ScriptActionDetails", "path": "@HOOK@", "timeout": "PT1M", "fabricLocation": "Recovery" } } ] },
    { "groupType": "Boot", "replicationProtectedItems": [ { "id": "/x/replicationProtectedItems/web", "virtualMachineId": "b" } ],
      "startGroupActions": [
        { "actionName": "Start-Web", "failoverTypes": ["TestFailover", "UnplannedFailover"], "failoverDirections": ["PrimaryToRecovery"],
          "customDetails": { "instanceType": "AutomationRunbookActionDetails", "runbookId": "/subscriptions/s/automationAccounts/a/runbooks/Start-Web", "fabricLocation": "Recovery" } } ],
      "endGroupActions": [
        { "actionName": "look", "failoverTypes": ["UnplannedFailover"], "failoverDirections": ["PrimaryToRecovery"],
          "customDetails": { "instanceType": "ManualActionDetails", "description": "Look at the shop" } } ] } ] } }
JSON
out=$(lb import asr run.json -o run.yaml 2>&1); rc=$?
[ $rc = 0 ] && [[ $out == *"(0 note(s)"* ]] && pass "a plan with nothing left out imports without notes" || fail "import run.json" "exit $rc" "$out"
out=$(lb drill run.yaml --yes 2>&1); rc=$?
[ $rc = 2 ] && [[ $out == *"secret 'RUNBOOK_START_WEB_WEBHOOK' is not set"* ]] && pass "until the runbook's webhook is set, jobs refuse to start" \
	|| fail "missing webhook secret" "exit $rc" "$out"
export LIFEBOAT_SECRET_RUNBOOK_START_WEB_WEBHOOK="http://127.0.0.1:$PORT/webhooks?token=tok-$RANDOM"
out=$(lb drill run.yaml --yes 2>&1); rc=$?
[ $rc = 0 ] && [ "$(cat events)" = "hook ran" ] && grep -q '^/webhooks?token=tok-.*"FailoverType":"drill".*"RecoveryPlanName":"two-tier"' webhook.log \
	&& pass "drill: the script ran, the runbook's webhook got the plan's context" || fail "drill run" "exit $rc" "$out" "$(cat webhook.log 2>/dev/null)"
rm -f events webhook.log
out=$(lb failover run.yaml --planned --yes 2>&1); rc=$?
[ $rc = 0 ] && [ "$(cat events)" = "hook ran" ] && [ ! -e webhook.log ] && [[ $out != *"Look at the shop"* ]] \
	&& pass "planned failover: the script, not the unplanned-only runbook and manual step" || fail "planned failover run" "exit $rc" "$out"

# bad input: one line, exit 2, nothing written
printf '{"properties": {"groups": [' > broken.json
expect 2 "lifeboat import: broken.json: not JSON*" "not JSON" lb import asr broken.json -o x.yaml
echo '{"id": "/x", "properties": {"provisioningState": "Succeeded"}}' > vm.json
expect 2 "lifeboat import: vm.json: not a recovery plan: no properties.groups*" "JSON that is not a recovery plan" lb import asr vm.json -o x.yaml
echo '{"type": "Microsoft.Compute/virtualMachines", "properties": {"groups": []}}' > vm2.json
expect 2 "*not a recovery plan: its type is 'Microsoft.Compute/virtualMachines'" "another resource type" lb import asr vm2.json -o x.yaml
echo '{"properties": {"groups": [{"groupType": "Reboot"}]}}' > gt.json
expect 2 "*Reboot?: groupType must be Shutdown, Failover or Boot" "an unknown group type" lb import asr gt.json -o x.yaml
echo '{"value": [{"properties": {"groups": []}}, {"properties": {"groups": []}}]}' > two.json
expect 2 "*the file lists 2 recovery plans; import one*" "a list of two plans" lb import asr two.json -o x.yaml
echo '{"properties": {"groups": [{"groupType": "Boot", "replicationProtectedItems": []}]}}' > empty.json
expect 2 "*protects no machine*" "a plan without machines" lb import asr empty.json -o x.yaml
[ ! -e x.yaml ] && pass "nothing was written for bad input" || fail "x.yaml written"
cp run.yaml keep.yaml
expect 2 "*run.yaml exists; --force replaces it" "an existing plan is kept" lb import asr run.json -o run.yaml
cmp -s run.yaml keep.yaml && check "--force replaces it" lb import asr run.json -o run.yaml --force || fail "run.yaml changed"
expect 2 "*the format to import is needed: asr*" "an unknown format" lb import vmware run.json
expect 2 "*No such file*" "a missing file" lb import asr nothere.json

# hostile input: text that would end a YAML line or comment stays text
"$PYTHON" - <<'PY'
import json
act = lambda **d: {"actionName": d.pop("name", "a"), "failoverTypes": ["TestFailover"], "failoverDirections": ["PrimaryToRecovery"], "customDetails": d}
evil = "x\n      - name: evil\n        exec: [touch, PWNED]\n#"
plan = {"id": "/x/rp\rmax_parallel: 0\u2028store: /tmp/elsewhere", "name": "rp", "type": "Microsoft.RecoveryServices/vaults/replicationRecoveryPlans",
  "properties": {"friendlyName": {"not": "a string"}, "groups": [
    {"groupType": "Boot", "replicationProtectedItems": [], "startGroupActions": [act(instanceType="ManualActionDetails", description="from an empty group")]},
    {"groupType": "Boot", "replicationProtectedItems": [{"id": "/x/null"}] + [{"id": "/x/same"}] * 1000, "startGroupActions": [
      act(instanceType="ScriptActionDetails", path="/bin/true", fabricLocation=evil, timeout="P1DT2H"),
      act(instanceType="AutomationRunbookActionDetails", runbookId="/a/A/runbooks/restart", timeout="PT2000000000S"),
      act(instanceType="AutomationRunbookActionDetails", runbookId="/a/B/runbooks/restart"),
      act(instanceType="AutomationRunbookActionDetails", runbookId="/a/C/runbooks/x\n- exec: [touch, PWNED2]\r- exec: [touch, PWNED2]"),
      act(instanceType="ManualActionDetails", description="line one\rline two \x7f\u0085 \"quoted\" \\ ${{ secret.X }} done"),
      act(instanceType="ScriptActionDetails", path=["/bin/sh", "-c", "touch PWNED3"])]}]}}
open("evil.json", "w").write(json.dumps(plan))
PY
start=$(date +%s%N)
out=$(lb import asr evil.json -o evil.yaml 2>&1); rc=$?
ms=$(( ($(date +%s%N) - start) / 1000000 ))
[ $rc = 0 ] && [ "$ms" -lt 10000 ] && pass "a hostile recovery plan imports (1,001 items in ${ms} ms)" || fail "hostile import" "exit $rc, $ms ms" "$out"
check "and validates" lb validate evil.yaml
"$PYTHON" - evil.yaml <<'PY' && pass "nothing from the input became a key, an action or a command of its own" || fail "injection" "$(head -40 evil.yaml)"
import sys, re
t = open(sys.argv[1], encoding="utf-8").read()
lines = [l for l in t.split("\n") if not l.lstrip().startswith("#")]
assert not any(re.match(r"\s*(max_parallel|store):", l) for l in lines), "injected key"
assert not any(re.match(r"\s*- name: evil", l) or re.match(r"\s*- exec:", l) for l in lines), "injected action"
assert "\r" not in t and "\u2028" not in t and "\u0085" not in t and "\x7f" not in t, "a raw line break or control"
assert sum(l.count("exec: [") for l in lines) == 1, "one exec action only (the script with a path string)"
PY
out=$(lb show evil.yaml --op drill)
[[ $out == *"restore null on drill"* ]] && [[ $out == *"restore same-1000 on drill"* ]] && [[ $out == *'manual: from an empty group'* ]] \
	&& pass "a machine named null stays a name, duplicate ids are numbered, an empty group's action runs with the next" || fail "names" "${out:0:400}"
grep -q 'RUNBOOK_RESTART_WEBHOOK' evil.yaml && grep -q 'RUNBOOK_RESTART_2_WEBHOOK' evil.yaml \
	&& pass "two runbooks of one name get a secret each" || fail "runbook secrets" "$(grep -n RUNBOOK evil.yaml)"
grep -q 'timeout: 93600s' evil.yaml && grep -q "timeout '.*' not understood (or over 10^9 s)" evil.yaml \
	&& pass "P1DT2H is 93,600 s; a timeout over 10^9 s is noted, not written" || fail "timeouts" "$(grep -n timeout evil.yaml)"
LIFEBOAT_SECRET_RUNBOOK_RESTART_WEBHOOK=http://127.0.0.1:9/ LIFEBOAT_SECRET_RUNBOOK_RESTART_2_WEBHOOK=http://127.0.0.1:9/ \
	LIFEBOAT_SECRET_RUNBOOK_X_EXEC_TOUCH_PWNED2_EXEC_TOUCH_PWNED2_WEBHOOK=http://127.0.0.1:9/ lb drill evil.yaml --yes >/dev/null 2>&1
[ ! -e PWNED ] && [ ! -e PWNED2 ] && [ ! -e PWNED3 ] && pass "a drill of it runs nothing the input smuggled in" || fail "smuggled command ran"
printf '{"properties": {"groups": [{"groupType": "Boot", "replicationProtectedItems": [{"id": "/x/a\\u0000; rm"}]}]}}' > nul.json
expect 2 "*nul.json: a string holds a NUL character*" "a NUL in a string is refused" lb import asr nul.json
printf '{"properties": {"groups": [{"groupType": "Boot", "replicationProtectedItems": [{"id": "/x/\xff"}]}]}}' > latin.json
expect 2 "*latin.json: not UTF-8 text (byte *" "text that is not UTF-8 is refused" lb import asr latin.json
