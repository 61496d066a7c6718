#!/usr/bin/env bash
# make demo-fleet: the recovery lifecycle of hosts reached over SSH.
# plans/fleet is copied to DEMO_DIR; its lab makes four hosts on this
# machine (network namespaces, each with its own sshd and its own /srv):
# a PostgreSQL host and an nginx host on 10.233.1.0/24, two recovery hosts
# on 10.233.2.0/24, and an S3 store on a fifth. lifeboat installs itself on
# each host and syncs there, straight into the store; then a drill on the
# recovery hosts (report, cleanup), a planned failover that carries the
# last write, reprotect and failback. The lab is gone when it exits.
set -eu
cd "$(dirname "$0")"
BUILD=${BUILD:-build}
LB=$PWD/$BUILD/lifeboat
W=${DEMO_DIR:-/tmp/lifeboat-demo-fleet}
export LIFEBOAT_NPM_DIR=${LIFEBOAT_NPM_DIR:-$PWD/build/test-cache/npm} # s3rver, installed once
[ -d "$W/fleet" ] && sh "$W/fleet/lab.sh" down
rm -rf "$W"; mkdir -p "$W"
cp -r plans/fleet "$W/"
rm -rf "$W/fleet/lab" "$W/fleet/.lifeboat" "$W/fleet/store.key" "$W/fleet/.npm"
cd "$W/fleet"
trap 'sh lab.sh down' EXIT
start=$(date +%s)

bold() { if [ -t 1 ] && [ -z "${NO_COLOR:-}" ]; then printf '\033[1m%s\033[0m\n' "$*"; else printf '%s\n' "$*"; fi; }
phase() { printf '\n'; bold "== $*"; }
run() { printf '$ %s\n' "$*"; "$@"; }
lb() { printf '$ lifeboat %s\n' "$*"; "$LB" "$@"; }
sql() { printf '$ psql -h %s -c "%s"\n' "$1" "$2"; psql -X -q -A -t -h "$1" -p "${3:-5432}" -U postgres -d shop -c "$2" | sed 's/^/  /'; }
page() { printf '$ curl %s\n' "$1"; curl -s --max-time 5 "$1" | sed 's/^/  /'; }
reports() { "$LB" report "$("$LB" jobs | tail -1 | cut -d' ' -f1)" | sed 's/^/  /'; }

phase "1. the hosts: db 10.233.1.10 (PostgreSQL), web 10.233.1.11 (nginx); recovery db2 10.233.2.10, web2 10.233.2.11"
run sh lab.sh up
. lab/env
lb validate plan.yaml
page http://10.233.1.11:8080/app.env
sql 10.233.1.10 "select item from orders"

phase "2. replicate: lifeboat installs itself on each host and syncs there into s3://fleet"
lb replicate plan.yaml
lb agent status plan.yaml --site primary

phase "3. drill on the recovery hosts (ports 5433 and 8081), then clean up"
sql 10.233.1.10 "insert into orders (item) values ('order 3, after the point')"
lb drill plan.yaml --keep
sql 10.233.2.10 "select item from orders" 5433
echo "  (the drill's copy: order 3 came after the point)"
page http://10.233.2.11:8081/app.env
lb cleanup plan.yaml
reports

phase "4. planned failover to the recovery hosts: the last write comes along"
sql 10.233.1.10 "insert into orders (item) values ('last write before the failover')"
lb failover plan.yaml --planned
reports
sql 10.233.2.10 "select item from orders"
page http://10.233.2.11:8080/app.env

phase "5. reprotect, then fail back to the primary hosts"
sql 10.233.2.10 "insert into orders (item) values ('written at recovery')"
lb reprotect plan.yaml
lb failback plan.yaml
reports
sql 10.233.1.10 "select item from orders"
page http://10.233.1.11:8080/app.env

phase "done in $(( $(date +%s) - start ))s; the plan, its state and reports stay in $W/fleet (lab.sh down removed every host)"
