#!/usr/bin/env bash
# lifeboat protect with intervals of seconds, on the local provider: one
# round with --once; points on schedule; a dataset that disappears gives
# one rpo_breach and one replication_failed, then one rpo_recovered when
# it returns; a webhook that is down does not delay replication and gets
# the alert once it is up; SIGHUP with a broken plan keeps the old one and
# raises plan_invalid; SIGTERM mid-sync stops within seconds and leaves a
# sound store; kill -9 then a restart keeps the schedule (no burst); one
# service per plan; status shows what the service knows.
. "$(dirname "$0")/lib.sh"

cat > plan.yaml <<'YAML'
lifeboat: 1
name: prot
store: replica
policy: { rpo_threshold: 4s, replicate_every: 1s }
alerts:
  - command: echo "$LIFEBOAT_EVENT ${LIFEBOAT_MACHINE:-} $LIFEBOAT_MESSAGE" >> alerts.log
  - webhook: http://127.0.0.1:PORT/hook
    events: [rpo_breach, rpo_recovered]
sites:
  primary: { provider: local, root: site-a }
  recovery: { provider: local, root: site-b }
machines:
  app:
    datasets:
      - { name: data, kind: tree, path: data }
groups:
  - name: g
    machines: [app]
YAML
PORT=$($PYTHON -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
sed -i "s/PORT/$PORT/" plan.yaml
mkdir -p site-a/app/data && echo one > site-a/app/data/f
points() { lb points --store replica 2>/dev/null | grep -c "app/data"; }
jobs_count() { ls -d .lifeboat/jobs/*-replicate-* 2>/dev/null | wc -l; }
count() { grep -c "^$1 " alerts.log 2>/dev/null || echo 0; }
PIDS=()
stop_all() { for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done; cleanup_work; }
trap stop_all EXIT

out=$(lb protect plan.yaml --once 2>&1)
if [ $? = 0 ] && [ "$(points)" = 1 ] && [ "$(count rpo_breach)" = 0 ] && [ -f .lifeboat/protect.json ]; then
	pass "protect --once: one replicate, no alert, the schedule kept in protect.json"
else fail "protect --once: one replicate, no alert, the schedule kept in protect.json" "$out"; fi

# the service, with the webhook down
"$LB_BIN" protect plan.yaml > service.log 2>&1 &
svc=$!; PIDS+=("$svc")
sleep 5
n=$(points)
if [ "$n" -ge 4 ] && [ "$n" -le 7 ]; then pass "points appear on schedule (every second): $n in 5 s"
else fail "points appear on schedule (every second): $n in 5 s" "$(tail -5 service.log)"; fi
expect 2 "*plan prot is protected by another lifeboat protect*" "a second service for the same plan is refused" \
	lb protect plan.yaml

# the dataset goes away: replication fails, the point ages past the threshold
mv site-a/app/data site-a/app/gone
for i in $(seq 100); do [ "$(count rpo_breach)" -ge 1 ] && break; sleep 0.2; done
sleep 2
out=$(lb status plan.yaml)
if [ "$(count rpo_breach)" = 1 ] && [ "$(count replication_failed)" = 1 ] && grep -q "^replication_failed .*data of app.*does not exist" alerts.log &&
	[[ $out == *"protect: "*"FAILING"*"over RPO: app"* ]]; then
	pass "a dataset that disappears: one replication_failed (with the error), one rpo_breach, status says so"
else fail "a dataset that disappears: one replication_failed (with the error), one rpo_breach, status says so" "$(cat alerts.log)" "$out"; fi
# the webhook comes up meanwhile: it gets the breach it missed
cat > hook.py <<'PY'
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        open("hook.log", "ab").write(body + b"\n")
        self.send_response(204); self.end_headers()
    def log_message(self, *a): pass
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
PY
$PYTHON hook.py "$PORT" & PIDS+=("$!")
mv site-a/app/gone site-a/app/data
for i in $(seq 100); do [ "$(count rpo_recovered)" -ge 1 ] && grep -q rpo_recovered hook.log 2>/dev/null && break; sleep 0.2; done
if [ "$(count rpo_recovered)" = 1 ] && [ "$(count rpo_breach)" = 1 ] && grep -q '"event":"rpo_breach"' hook.log &&
	grep -q '"event":"rpo_recovered"' hook.log && ! grep -q replication_failed hook.log; then
	pass "the dataset returns: one rpo_recovered; the webhook that was down gets the breach it missed, then the recovery"
else fail "the dataset returns: one rpo_recovered; the webhook that was down gets the breach it missed, then the recovery" \
	"$(cat alerts.log)" "$(cat hook.log 2>/dev/null)" "$(grep alert: service.log)"; fi

# SIGHUP with a broken plan: the old one stays, plan_invalid is raised
cp plan.yaml good.yaml
printf 'bogus_key: 1\n' >> plan.yaml
kill -HUP $svc
for i in $(seq 50); do [ "$(count plan_invalid)" -ge 1 ] && break; sleep 0.2; done
b=$(points); sleep 2.5; a=$(points)
if [ "$(count plan_invalid)" = 1 ] && grep -q "plan.yaml:.*bogus_key" alerts.log && [ "$a" -gt "$b" ] && kill -0 $svc; then
	pass "SIGHUP with a plan that no longer validates: plan_invalid once (with FILE:LINE), replication goes on"
else fail "SIGHUP with a plan that no longer validates: plan_invalid once (with FILE:LINE), replication goes on" "$(cat alerts.log)"; fi
cp good.yaml plan.yaml

# SIGTERM in the middle of a sync: out within seconds, the store sound
head -c 100M /dev/urandom > site-a/app/data/big
for i in $(seq 100); do pgrep -f "lifeboat sync .*site-a/app/data" >/dev/null && break; sleep 0.05; done
t0=$(date +%s%N)
kill -TERM $svc; wait $svc; rc=$?
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
if [ $rc = 0 ] && [ $ms -lt 5000 ] && ! pgrep -f "lifeboat sync .*site-a/app/data" >/dev/null; then
	pass "SIGTERM mid-sync: the service stops in ${ms} ms, its sync with it"
else fail "SIGTERM mid-sync: the service stops in ${ms} ms, its sync with it" "exit $rc" "$(tail -5 service.log)"; fi
check "the store is sound after SIGTERM mid-sync" lb verify --store replica
rm site-a/app/data/big

# kill -9, then a restart: the schedule goes on from where it was, no burst
"$LB_BIN" protect plan.yaml > service2.log 2>&1 &
svc=$!; PIDS+=("$svc")
sleep 2
kill -9 $svc; wait $svc 2>/dev/null
before=$(jobs_count)
"$LB_BIN" protect plan.yaml > service3.log 2>&1 &
svc=$!; PIDS+=("$svc")
sleep 2.5
after=$(jobs_count)
kill -TERM $svc; wait $svc
if [ $((after - before)) -ge 1 ] && [ $((after - before)) -le 3 ]; then
	pass "kill -9 and a restart: $((after - before)) replicate(s) in the next 2.5 s, as scheduled (no burst)"
else fail "kill -9 and a restart: $((after - before)) replicate(s) in the next 2.5 s, as scheduled (no burst)"; fi
# systemd's readiness protocol (Type=notify): a datagram socket named by NOTIFY_SOCKET
notes=$($PYTHON - "$LB_BIN" "$WORK/notify.sock" <<'PY'
import os, socket, subprocess, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); s.bind(sys.argv[2]); s.settimeout(20)
p = subprocess.Popen([sys.argv[1], "protect", "plan.yaml"], env=dict(os.environ, NOTIFY_SOCKET=sys.argv[2]),
                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
got = [s.recv(4096).decode()]
while "STATUS=1 plan(s)" not in got[-1]: got.append(s.recv(4096).decode())
p.terminate()
while "STOPPING=1" not in got[-1]: got.append(s.recv(4096).decode())
p.wait()
print(" | ".join(m.replace("\n", " ") for m in got))
PY
)
if [[ "$notes" == "READY=1 STATUS=protecting 1 plan(s) | "*"STATUS=1 plan(s), "*" machine(s) within their RPO; next sync in "*"STOPPING=1" ]]; then
	pass "systemd notify: READY=1 once serving, a STATUS line per round, STOPPING=1 on SIGTERM"
else fail "systemd notify" "$notes"; fi
expect 2 "*a plan file is needed*" "protect without a plan is bad input" lb protect
sed 's/^name: prot$/name: prot\nbogus: 1/' good.yaml > bad.yaml
expect 2 "*bad.yaml:*bogus*" "protect of a plan that does not validate is refused with FILE:LINE:COL" lb protect bad.yaml --once
echo "1..$T_N"
