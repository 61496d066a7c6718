#!/usr/bin/env bash
# make demo-vm: the recovery lifecycle of two virtual machines. plans/vm is
# copied to DEMO_DIR; its lab boots the primary VMs (a database VM and a
# web VM, QEMU, each site a network namespace) and a DNS server, then:
# replicate while they run, drill in an isolated network with production's
# addresses (production keeps serving), planned failover to the recovery
# network (re-IP inside the web VM's disk, DNS moved), reprotect, failback.
# Every VM, network and server it started is gone when it exits.
set -eu
cd "$(dirname "$0")"
BUILD=${BUILD:-build}
LB=$PWD/$BUILD/lifeboat
W=${DEMO_DIR:-/tmp/lifeboat-demo-vm}
export LIFEBOAT_VM_IMAGES=${LIFEBOAT_VM_IMAGES:-$PWD/plans/vm/.images} # built once, kept
[ -d "$W/vm" ] && sh "$W/vm/lab.sh" down
rm -rf "$W"; mkdir -p "$W"
cp -r plans/vm "$W/"
rm -rf "$W/vm/.images" "$W/vm/sites" "$W/vm/replica" "$W/vm/.lifeboat"
cd "$W/vm"
trap 'sh lab.sh down' EXIT
start=$(date +%s)

bold() { if [ -t 1 ] && [ -z "${NO_COLOR:-}" ]; then printf '\033[1m%s\033[0m\n' "$*"; else printf '%s\n' "$*"; fi; }
phase() { printf '\n'; bold "== $*"; }
run() { printf '$ %s\n' "$*"; "$@"; }
lb() { printf '$ lifeboat %s\n' "$*"; "$LB" "$@"; }
at() { local ns=$1 url=$2; printf '$ ip netns exec %s curl %s\n' "$ns" "$url"; ip netns exec "$ns" curl -s --max-time 5 "$url" | sed 's/^/  /'; }
add() { ip netns exec lbvm-prod curl -s --max-time 5 "http://10.231.1.10:5000/cgi-bin/add?$(echo "$1" | tr ' ' '+')" >/dev/null
	printf '  wrote "%s" to the database VM\n' "$1"; }
reports() { "$LB" report "$("$LB" jobs | tail -1 | cut -d' ' -f1)" | sed 's/^/  /'; }
dns() { printf '$ dig +short @127.0.0.1 -p 5353 www.vm.lab\n  %s\n' "$(dig +short @127.0.0.1 -p 5353 www.vm.lab)"; }

phase "1. the primary: VMs db (10.231.1.10) and web (10.231.1.11) in network lbvm-prod, DNS on 127.0.0.1:5353"
run sh lab.sh up
lb validate plan.yaml
at lbvm-prod http://10.231.1.11/cgi-bin/index

phase "2. replicate while the VMs run (each paused for its own sync)"
add "record 2: before the point"
lb replicate plan.yaml
add "record 3: after the point"

phase "3. drill in an isolated network with production's addresses"
lb drill plan.yaml --keep
at lbvm-drill http://10.231.1.11/cgi-bin/index
echo "  (the drill's copy: record 3 came after the point)"
at lbvm-prod http://10.231.1.11/cgi-bin/index
echo "  (production kept serving at the same address meanwhile)"
lb cleanup plan.yaml
reports
ip netns list | grep -q lbvm-drill || echo "the isolated network lbvm-drill is gone"

phase "4. planned failover to the recovery network 10.231.2.0/24: re-IP and DNS"
lb failover plan.yaml --planned --yes
reports
at lbvm-rec http://10.231.2.11/cgi-bin/index
dns

phase "5. reprotect, then fail back to the primary"
ip netns exec lbvm-rec curl -s --max-time 5 "http://10.231.2.10:5000/cgi-bin/add?record+4:+written+at+recovery" >/dev/null
echo '  wrote "record 4: written at recovery" at the recovery site'
lb reprotect plan.yaml
lb failback plan.yaml --yes
reports
at lbvm-prod http://10.231.1.11/cgi-bin/index
dns

phase "done in $(( $(date +%s) - start ))s; the plan, its state and reports stay in $W/vm (lab.sh down stopped every VM)"
