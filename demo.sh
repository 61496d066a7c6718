#!/usr/bin/env bash
# make demo: the recovery lifecycle of a real two-tier app on this machine.
# plans/smarthotel (PostgreSQL + nginx/PHP-FPM) is copied to DEMO_DIR; the
# primary site is set up and started, bookings are written, then:
# replicate, drill (report, cleanup), planned failover (the last booking is
# at the recovery site), reprotect, failback (in place, only what changed).
# Every server it started is stopped when it exits.
set -eu
cd "$(dirname "$0")"
BUILD=${BUILD:-build}
LB=$PWD/$BUILD/lifeboat
W=${DEMO_DIR:-/tmp/lifeboat-demo}   # /tmp: the postgres user must reach the data
rm -rf "$W"; mkdir -p "$W"; chmod 755 "$W"
cp -r plans/smarthotel "$W/"
cd "$W/smarthotel"
trap 'sh setup.sh down' EXIT
start=$(date +%s)

bold() { if [ -t 1 ] && [ -z "${NO_COLOR:-}" ]; then printf '\033[1m%s\033[0m\n' "$*"; else printf '%s\n' "$*"; fi; }
phase() { printf '\n'; bold "== $*"; }
run() { printf '$ %s\n' "$*"; "$@"; }
lb() { printf '$ lifeboat %s\n' "$*"; "$LB" "$@"; }
book() { printf '$ sh book.sh %s "%s"   # booking #%s\n' "$1" "$2" "$(sh book.sh "$1" "$2")"; }
page_has() { curl -sf "http://127.0.0.1:$1/" | grep -q "$2"; }
reports() { "$LB" report "$("$LB" jobs | tail -1 | cut -d' ' -f1)" | sed 's/^/  /'; }

phase "1. the primary site: PostgreSQL on :15432, nginx + PHP-FPM on :18080"
run sh setup.sh
lb validate plan.yaml

phase "2. replication: an app-consistent recovery point of every dataset"
book 15432 "Grace Hopper"
lb replicate plan.yaml
lb status plan.yaml

phase "3. drill: restore into site-drill (ports +1000) beside production, check, report, clean up"
SMARTHOTEL_EXPECT="Grace Hopper" lb drill plan.yaml
reports
[ ! -e site-drill ] && echo "site-drill is gone: the drill cleaned up"
page_has 18080 "Served from site: primary" && echo "production kept serving from the primary during the drill"

phase "4. planned failover to site-b (ports +2000): no data loss"
book 15432 "Katherine Johnson"
SMARTHOTEL_EXPECT="Katherine Johnson" lb failover plan.yaml --planned --yes
reports
page_has 20080 "Katherine Johnson" && echo "the last booking written at the primary is served by the recovery site"
printf '$ lifeboat replicate plan.yaml   # the old primary is fenced\n'
"$LB" replicate plan.yaml || true

phase "5. reprotect: replicate the recovery site back"
book 17432 "Margaret Hamilton"
lb reprotect plan.yaml

phase "6. failback to the primary, in place (only what changed is written)"
SMARTHOTEL_EXPECT="Margaret Hamilton" lb failback plan.yaml --yes
reports
page_has 18080 "Margaret Hamilton" && echo "the booking written at the recovery site is back at the primary"
lb status plan.yaml

phase "done in $(( $(date +%s) - start ))s; the plan, its state and reports stay in $W/smarthotel"
