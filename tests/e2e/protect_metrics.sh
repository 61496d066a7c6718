#!/usr/bin/env bash
# lifeboat protect --metrics: Prometheus text at /metrics (valid for
# promtool, nothing else served, loopback by default), scraped by a real
# Prometheus server started here on 127.0.0.1 and answered through its
# HTTP API; a breach shows as lifeboat_rpo_breached 1.
. "$(dirname "$0")/lib.sh"

if ! command -v prometheus >/dev/null || ! command -v promtool >/dev/null; then
	echo "not ok 1 - prometheus and promtool are installed (Debian package prometheus)"; exit 1
fi
free() { $PYTHON -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
MPORT=$(free) PPORT=$(free)
cat > plan.yaml <<'YAML'
lifeboat: 1
name: metered
store: replica
policy: { rpo_threshold: 5s, replicate_every: 2s }
sites:
  primary: { provider: local, root: site-a }
  recovery: { provider: local, root: site-b }
machines:
  app:
    datasets:
      - { name: data, kind: tree, path: data }
  db:
    datasets:
      - { name: pg, kind: tree, path: pg }
groups:
  - name: g
    machines: [app, db]
YAML
mkdir -p site-a/app/data site-a/db/pg && echo one > site-a/app/data/f && echo two > site-a/db/pg/f
PIDS=()
stop_all() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done; cleanup_work; }
trap stop_all EXIT

expect 2 "*--metrics nowhere is not ADDR:PORT*" "--metrics with a bad address is bad input" lb protect plan.yaml --metrics nowhere
"$LB_BIN" protect plan.yaml --metrics "$MPORT" > service.log 2>&1 &
PIDS+=("$!")
for i in $(seq 100); do curl -s "http://127.0.0.1:$MPORT/metrics" | grep -q '^lifeboat_replicate_runs_total{plan="metered"} [1-9]' && break; sleep 0.1; done
curl -s "http://127.0.0.1:$MPORT/metrics" > m.txt
if promtool check metrics < m.txt > check.out 2>&1 && grep -q '^lifeboat_rpo_breached{machine="app",plan="metered"} 0$' m.txt &&
	grep -q 'lifeboat_point_age_seconds{dataset="pg",machine="db",plan="metered"}' m.txt && grep -q '^process_resident_memory_bytes [0-9]' m.txt; then
	pass "/metrics is valid for promtool, with every dataset and the process's own"
else fail "/metrics is valid for promtool, with every dataset and the process's own" "$(cat check.out)" "$(head -30 m.txt)"; fi
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$MPORT/")
listen=$(ss -ltnH "sport = :$MPORT" | awk '{print $4}')
if [ "$code" = 404 ] && [ "$listen" = "127.0.0.1:$MPORT" ]; then pass "nothing but /metrics is served, on loopback by default"
else fail "nothing but /metrics is served, on loopback by default" "code $code, listening on $listen"; fi

cat > prom.yml <<YAML
global: { scrape_interval: 1s, evaluation_interval: 1s }
scrape_configs:
  - job_name: lifeboat
    static_configs: [ { targets: ["127.0.0.1:$MPORT"] } ]
YAML
prometheus --config.file=prom.yml --storage.tsdb.path=prom-data --web.listen-address="127.0.0.1:$PPORT" \
	> prom.log 2>&1 &
PIDS+=("$!")
query() { curl -s "http://127.0.0.1:$PPORT/api/v1/query" --data-urlencode "query=$1"; }
got=""
for i in $(seq 150); do
	got=$(query 'lifeboat_point_age_seconds{plan="metered",machine="app"}')
	[[ $got == *'"result":[{'* ]] && break; sleep 0.2
done
if [[ $got == *'"status":"success"'*'"dataset":"data"'*'"job":"lifeboat"'* ]]; then
	pass "a real Prometheus scrapes the service and answers a query for the point's age"
else fail "a real Prometheus scrapes the service and answers a query for the point's age" "$got" "$(tail -5 prom.log)"; fi

# the dataset goes away: the breach is a metric too
mv site-a/app/data site-a/app/gone
for i in $(seq 150); do
	got=$(query 'lifeboat_rpo_breached{plan="metered",machine="app"} == 1')
	[[ $got == *'"result":[{'* ]] && break; sleep 0.2
done
fails=$(query 'lifeboat_sync_failures_total{plan="metered"}')
if [[ $got == *'"result":[{'* ]] && [[ $fails == *'"value":['*',"'[1-9]* ]]; then
	pass "a machine over its RPO shows in Prometheus as lifeboat_rpo_breached 1, its failures counted"
else fail "a machine over its RPO shows in Prometheus as lifeboat_rpo_breached 1, its failures counted" "$got" "$fails"; fi
echo "1..$T_N"
