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
