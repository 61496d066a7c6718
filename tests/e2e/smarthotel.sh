#!/usr/bin/env bash
# The recovery lifecycle of plans/smarthotel with real servers (PostgreSQL,
# nginx, PHP-FPM on 127.0.0.1): replicate, drill, planned failover,
# reprotect, failback; then a failing health check, a tweak that matches
# nothing, a drill killed with kill -9 and cleaned up, and an unplanned
# failover to latest-app killed halfway and resumed.
. "$(dirname "$0")/lib.sh"
SRC=$OLDPWD
for c in nginx php-fpm8.2 /usr/lib/postgresql/15/bin/postgres curl chromium; do
	command -v "$c" >/dev/null || { fail "$c is installed (make deps installs it)"; exit 1; }
done
chmod 755 "$WORK"   # the postgres user reads the sites
cp -r "$SRC/plans/smarthotel" "$WORK/"
cd "$WORK/smarthotel" || exit 1
# whatever happens, no server of this test outlives it
trap 'sh setup.sh down >/dev/null 2>&1; pkill -9 -f "$WORK/" 2>/dev/null; cleanup_work' EXIT

last_job() { "$LB_BIN" jobs | tail -1 | cut -d" " -f1; }
page() { curl -s --max-time 5 "http://127.0.0.1:$1/"; }
no_drill_left() { [ ! -e site-drill ] && ! pgrep -f "$WORK/smarthotel/site-drill" >/dev/null; }
report_json() { "$PYTHON" -c "import json,sys; r=json.load(open(sys.argv[1])); print($1)" ".lifeboat/jobs/$2/report.json"; }

check "setup: the primary site comes up" sh setup.sh
sh book.sh 15432 "Grace Hopper" >/dev/null
check "replicate" lb replicate plan.yaml
J=$(last_job)
grep -q '"consistency":"app"' ".lifeboat/jobs/$J/journal.jsonl" && pass "the first replication is app-consistent (quiesce ran)" \
	|| fail "app-consistent point"

out=$(SMARTHOTEL_EXPECT="Grace Hopper" lb drill plan.yaml 2>&1); rc=$?
J=$(last_job)
[ "$rc" = 0 ] && pass "drill: the booking is served at the drill site" || fail "drill" "exit $rc" "$out"
for f in report.json report.md junit.xml report.html; do
	[ -s ".lifeboat/jobs/$J/$f" ] || fail "drill wrote $f"
done
pass "drill wrote report.json, report.md, junit.xml, report.html"
[ "$(report_json 'r["rto_met"], r["rpo_met"], r["rto"] > 0' "$J")" = "True True True" ] && pass "report: RTO and RPO against the objectives" \
	|| fail "report objectives" "$(report_json 'r.get("rto"), r.get("rpo")' "$J")"
"$PYTHON" -c "import xml.dom.minidom,sys; d=xml.dom.minidom.parse(sys.argv[1]); assert len(d.getElementsByTagName('testcase'))>10" \
	".lifeboat/jobs/$J/junit.xml" && pass "junit.xml: one test case per step" || fail "junit.xml"
no_drill_left && pass "drill: cleaned up (no folder, no process)" || fail "drill cleanup" "$(ls; pgrep -af site-drill)"

# the HTML report as a browser draws it: headless Chromium, then pixels
screenshot() { # JOB PNG
	timeout 60 chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1100,1400 \
		--screenshot="$2" "file://$PWD/.lifeboat/jobs/$1/report.html" >/dev/null 2>&1
}
GREEN=46,125,50 RED=198,40,40
if screenshot "$J" good.png && [ -s good.png ]; then
	read -r w h green red <<< "$("$PYTHON" "$SRC/tests/tools/pngcolor.py" good.png $GREEN $RED)"
	[ "$w" = 1100 ] && [ "$green" -gt 2000 ] && [ "$red" = 0 ] \
		&& pass "report.html in headless Chromium: green timeline bars, nothing red ($green px)" \
		|| fail "report.html screenshot" "$w x $h, green $green, red $red"
else
	fail "headless Chromium renders report.html"
fi
[[ $(page 18080) == *"Served from site: primary"* ]] && pass "production untouched by the drill" || fail "production during drill"

# a kept drill stays up beside production until cleanup; nothing else may start meanwhile
out=$(lb drill plan.yaml --keep 2>&1); rc=$?
[ "$rc" = 0 ] && [[ $(page 19080) == *"Served from site: drill"* ]] && pass "drill --keep leaves the drill copy up" \
	|| fail "drill --keep" "exit $rc" "$out"
expect 2 "*kept drill*lifeboat cleanup PLAN*" "failover while a kept drill is up is refused" lb failover plan.yaml --yes
expect 2 "*kept drill*" "a second drill while one is kept is refused" lb drill plan.yaml
check "cleanup of the kept drill" lb cleanup plan.yaml
no_drill_left && pass "cleanup removed the kept drill" || fail "kept drill cleanup" "$(pgrep -af site-drill)"
out=$(lb drill plan.yaml --dry-run 2>&1); rc=$?
[ "$rc" = 0 ] && [[ $out == *"preflight: ok"* ]] && ! [ -e site-drill ] && pass "drill --dry-run: preflight ok, nothing created" \
	|| fail "drill dry run" "exit $rc" "$out"
mv store.key store.key.good; head -c 64 /dev/urandom > store.key
expect 2 "*preflight*wrong key*" "preflight finds a wrong store key" lb drill plan.yaml --dry-run
mv store.key.good store.key

sh book.sh 15432 "Katherine Johnson" >/dev/null
expect 2 "*nothing to commit*failover*" "commit before a failover is refused" lb commit plan.yaml
out=$(SMARTHOTEL_EXPECT="Katherine Johnson" lb failover plan.yaml --planned --yes 2>&1); rc=$?
[ "$rc" = 0 ] && [[ $(page 20080) == *"Katherine Johnson"* ]] && pass "planned failover: the last booking is at the recovery site" \
	|| fail "planned failover" "exit $rc" "$out"
[[ $(page 18080) == "" ]] && pass "planned failover: the primary is stopped" || fail "primary still serves"
fence=$(lb store state smarthotel --store replica --key-file store.key --json)
[[ $fence == *'"active":"recovery"'*'"phase":"failed-over"'*'"source":null'* ]] && pass "the store records the active site, and that no site may replicate" ||
	fail "store fence" "$fence"
expect 2 "*belongs to plan smarthotel*failed-over*no site may replicate*" "a sync from the old primary is refused by sync itself" \
	lb sync site-a/db/pgdata --store replica --key-file store.key --as db/pgdata --site primary
expect 2 "*old primary is fenced*reprotect*" "replicate after failover is refused (fencing)" lb replicate plan.yaml
expect 2 "*run 'lifeboat reprotect PLAN' first*" "failback before reprotect is refused" lb failback plan.yaml --yes
sh book.sh 17432 "Margaret Hamilton" >/dev/null
check "reprotect" lb reprotect plan.yaml
out=$(SMARTHOTEL_EXPECT="Margaret Hamilton" lb failback plan.yaml --yes 2>&1); rc=$?
[ "$rc" = 0 ] && [[ $(page 18080) == *"Margaret Hamilton"* ]] && pass "failback: the recovery site's booking is back at the primary" \
	|| fail "failback" "exit $rc" "$out"
J=$(last_job)
grep -q '"delta":true' ".lifeboat/jobs/$J/journal.jsonl" && pass "failback restored in place (delta)" || fail "failback delta"
[[ $(page 20080) == "" ]] && pass "failback: the recovery site is stopped" || fail "recovery still serves"
check "replicate works again after failback" lb replicate plan.yaml

# a failing health check fails the drill, with the evidence in the report
sed 's/within: 30s/within: 2s/' plan.yaml > fast.yaml
out=$(SMARTHOTEL_EXPECT="Nobody Booked This" lb drill fast.yaml 2>&1); rc=$?
J=$(last_job)
[ "$rc" = 1 ] && [[ $out == *"web/web/health"*"body lacks 'Nobody Booked This'"* ]] && pass "a failing health check fails the drill" \
	|| fail "failing health" "exit $rc" "$out"
ev=$(report_json '[e for e in r["steps"] if e["id"]=="web/web/health"][0]["evidence"][0]["last"]' "$J")
[[ $ev == *"body lacks"* ]] && pass "the report keeps the health check's evidence" || fail "evidence" "$ev"
grep -q "body lacks" ".lifeboat/jobs/$J/report.html" && pass "report.html shows the evidence" || fail "html evidence"
if screenshot "$J" bad.png; then
	read -r w h green red <<< "$("$PYTHON" "$SRC/tests/tools/pngcolor.py" bad.png $GREEN $RED)"
	[ "$red" -gt 100 ] && pass "the failed drill's report draws the failed step and the missed RTO in red ($red px)" \
		|| fail "failed report screenshot" "red $red"
else
	fail "headless Chromium renders the failed report"
fi
no_drill_left && pass "the failed drill cleaned up" || fail "failed drill cleanup"

# a tweak whose pattern matches nothing fails its step
sed 's/match: "listen 127%.0%.0%.1:%d+;"/match: "listen 10%.9%.9%.9:%d+;"/' plan.yaml > broken.yaml
out=$(lb drill broken.yaml 2>&1); rc=$?
[ "$rc" = 1 ] && [[ $out == *"web/web/prepare/3"*"nothing matched"* ]] && pass "a tweak that matches nothing fails the step" \
	|| fail "tweak mismatch" "exit $rc" "$out"
no_drill_left && pass "and the drill cleaned up" || fail "cleanup after tweak failure"

# kill -9 in the middle of a drill, then cleanup leaves nothing behind
"$LB_BIN" drill plan.yaml >kill.out 2>&1 &
pid=$!
for _ in $(seq 100); do grep -q "done   data/db/health" kill.out && break; sleep 0.1; done
sleep 0.$(( RANDOM % 5 ))
kill -9 "$pid"; wait "$pid" 2>/dev/null
[ -e site-drill ] && pass "kill -9 left a half-done drill (db up)" || fail "the drill was not halfway" "$(cat kill.out)"
out=$(lb cleanup plan.yaml 2>&1); rc=$?
[ "$rc" = 0 ] && no_drill_left && pass "cleanup after kill -9: no folder, no process" || fail "cleanup after kill" "exit $rc" "$out" "$(pgrep -af site-drill)"

# unplanned failover to latest-app, killed halfway and resumed
sh book.sh 15432 "After The App Point" >/dev/null
check "a crash-consistent point after the app-consistent one" lb replicate plan.yaml
sh setup.sh down >/dev/null 2>&1   # the primary is gone
"$LB_BIN" failover plan.yaml --point latest-app --yes >fo.out 2>&1 &
pid=$!
for _ in $(seq 100); do grep -q "done   data/db/health" fo.out && break; sleep 0.1; done
kill -9 "$pid"; wait "$pid" 2>/dev/null
J=$(last_job)
out=$(lb resume "$J" --yes 2>&1); rc=$?
[ "$rc" = 0 ] && pass "resume of a failover killed halfway" || fail "resume failover" "exit $rc" "$out"
body=$(page 20080)
[[ $body == *"Margaret Hamilton"* ]] && [[ $body != *"After The App Point"* ]] \
	&& pass "unplanned failover to latest-app: the app-consistent point, not the newer crash one" || fail "latest-app" "$body"
grep -c '"ev":"start","group":"data","machine":"db","step":"data/db/restore"' ".lifeboat/jobs/$J/journal.jsonl" | grep -qx 1 \
	&& pass "the finished restore did not run again on resume" || fail "restore ran twice"

# commit: the migration is complete, the replica data is dropped, the recovered site stays
check "commit after the failover" lb commit plan.yaml
out=$(lb status plan.yaml)
[[ $out == *"(committed)"*"db"*"committed"* ]] && pass "status: committed" || fail "status after commit" "$out"
[ "$(lb points --store replica --key-file store.key --json)" = "[]" ] && pass "commit dropped every point of the plan" \
	|| fail "points after commit" "$(lb points --store replica --key-file store.key)"
[[ $(page 20080) == *"Margaret Hamilton"* ]] && pass "the recovered site still serves after commit" || fail "recovered site after commit"
expect 2 "*migration is committed*" "replicate after commit is refused" lb replicate plan.yaml

sh setup.sh down >/dev/null 2>&1
sleep 0.5
left=$(pgrep -af "$WORK/" | grep -v pgrep)
[ -z "$left" ] && pass "no server of the test is left running" || fail "servers left running" "$left"
