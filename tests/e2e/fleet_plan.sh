#!/usr/bin/env bash
# The ssh provider with plans/fleet: four hosts (network namespaces, each
# with its own sshd and /srv) and an S3 store on a fifth. lifeboat is
# installed on each host by the first job that needs it and runs the
# syncs and restores there. Replicate, a drill on the recovery hosts
# (cleaned up), a planned failover that carries the last write, failback.
# Faults: a host whose link goes down mid-sync, a wrong clock, a full
# disk, an older lifeboat, one that cannot run (a library missing), an
# unknown host key, an unreachable host, kill -9 of lifeboat during a
# failover (resume; nothing runs twice on the hosts).
. "$(dirname "$0")/lib.sh"
. "$E2E_DIR/lib_stores.sh"
REPO=$(cd "$E2E_DIR/../.." && pwd)

if [ "$(id -u)" != 0 ] || ! [ -x /usr/sbin/sshd ] || ! command -v psql >/dev/null; then
	echo "not ok 1 - needs root, openssh-server and postgresql (make deps)"; exit 1
fi
npm_servers || { echo "not ok 1 - s3rver could not be installed"; exit 1; }
export LIFEBOAT_NPM_DIR=$NPM_DIR
cp -r "$REPO"/plans/fleet/{plan.yaml,lab.sh,host} .
teardown() { sh lab.sh down >/dev/null 2>&1; cleanup_work; }
trap teardown EXIT
sh lab.sh down >/dev/null 2>&1 # a run that was killed
if ! out=$(sh lab.sh up 2>&1); then fail "the lab's hosts come up" "$out"; exit 1; fi
pass "the lab's hosts come up: sshd on each, PostgreSQL on db, nginx on web, the store"
. lab/env

sql() { psql -X -q -A -t -h "$1" -U postgres -d shop -c "$2"; }
# host_ps HOST: the command lines of every process of a host
host_ps() { ip netns pids "lbfl-$1" | xargs -r ps -o args= -p; }
# in_host HOST CMD...: a command in the host's namespaces (its /srv)
in_host() { local h=$1; shift; nsenter -t "$(cat "lab/hosts/$h/sshd.pid")" -m -n -r -w "$@"; } # its root too (a chroot)
masters_down() {
	pkill -f "ControlPath=$WORK/.lifeboat/ssh" 2>/dev/null
	for _ in $(seq 60); do pgrep -f "ControlPath=$WORK/.lifeboat/ssh" >/dev/null || break; sleep 0.05; done
}
lbj() { lb "$@" 2>&1; }
# reload_sshd HOST: its sshd re-reads its configuration (and says so again in its log)
reload_sshd() {
	local log=lab/hosts/$1/sshd.log n
	n=$(grep -c "Server listening" "$log")
	kill -HUP "$(cat "lab/hosts/$1/sshd.pid")"
	for _ in $(seq 100); do [ "$(grep -c "Server listening" "$log")" -gt "$n" ] && break; sleep 0.05; done
}

# a first replicate installs the agent on each primary host
out=$(lbj replicate plan.yaml)
if [ $? = 0 ] && [[ $out == *"lifeboat 0.1"*"installed at /srv/.lifeboat/bin/lifeboat"* ]] &&
	[ -x lab/hosts/db/srv/.lifeboat/bin/lifeboat ] && cmp -s lab/hosts/db/srv/.lifeboat/bin/lifeboat "$LB_BIN"; then
	pass "replicate installs this lifeboat on each primary host and syncs there"
else fail "replicate installs this lifeboat on each primary host and syncs there" "$out"; fi
if lb points --store s3://fleet/replica --key-file store.key | grep -q "db/pgdata" && ! host_ps db | grep -q "lifeboat sync"; then
	pass "the points are in the S3 store, and no sync is left running on the host"
else fail "the points are in the S3 store, and no sync is left running on the host"; fi
out=$(lbj agent status plan.yaml --site primary --json)
if [[ $out == *'"state":"current"'*'"state":"current"'* ]]; then pass "agent status: each primary host runs this very lifeboat"
else fail "agent status: each primary host runs this very lifeboat" "$out"; fi
# nothing secret on a host's disk or command lines
if ! grep -rqs "$(tr -d '\n' < store.key)" lab/hosts/db/srv/.lifeboat lab/hosts/web/srv/.lifeboat; then
	pass "the store's key never lands on a host's disk"
else fail "the store's key never lands on a host's disk"; fi

# a drill on the recovery hosts, beside /srv, then cleaned up
sql 10.233.1.10 "insert into orders (item) values ('order 3')"
out=$(lbj replicate plan.yaml)
out=$(lbj drill plan.yaml --keep)
if [ $? = 0 ] && [ "$(sql 10.233.2.10 'select count(*) from orders' 2>/dev/null)" = "" ] &&
	[ "$(psql -X -A -t -h 10.233.2.10 -p 5433 -U postgres -d shop -c 'select count(*) from orders')" = 3 ] &&
	[ "$(curl -s http://10.233.2.11:8081/app.env)" = "DB_HOST=10.233.2.10:5433" ]; then
	pass "drill: the copies run on the recovery hosts (ports 5433, 8081) with the connection string rewritten"
else fail "drill: the copies run on the recovery hosts (ports 5433, 8081) with the connection string rewritten" "$out"; fi
out=$(lbj cleanup plan.yaml)
if [ $? = 0 ] && [ -z "$(ls -A lab/hosts/db2/srv/drill 2>/dev/null)" ] && ! host_ps db2 | grep -q postgres &&
	! host_ps web2 | grep -q nginx; then
	pass "cleanup stops the drill's processes and removes its copies on the hosts"
else fail "cleanup stops the drill's processes and removes its copies on the hosts" "$out" "$(host_ps db2)"; fi

# a drill site whose agent folder is relative to the login's home, and a
# web server whose stop command does not stop it: cleanup still stops what
# lifeboat started (the pid file the start wrote is the one it reads)
agent_home=.lifeboat-e2e-$$
awk -v d="$agent_home" '/^  drill:/ {s=1} s && /agent_dir:/ {sub(/\/srv\/.lifeboat/, d); s=0} {print}' plan.yaml |
	sed 's|^    stop: sh /srv/bin/web.sh stop .*$|    stop: "true"|' > homedir.yaml
out=$(lbj drill homedir.yaml --keep)
rc=$?
started=$(host_ps web2 | grep -c "nginx: master")
out2=$(lbj cleanup homedir.yaml)
if [ $rc = 0 ] && [ "$started" = 1 ] && [ -f ~/"$agent_home"/bin/lifeboat ] && ! host_ps web2 | grep -q nginx &&
	! ls ~/"$agent_home"/run | grep -q "^start\."; then
	pass "an agent folder in the login's home, a stop command that does not stop: cleanup stops what lifeboat started"
else fail "an agent folder in the login's home, a stop command that does not stop: cleanup stops what lifeboat started" \
	"$out" "$out2" "$(host_ps web2)"; fi
rm -rf ~/"$agent_home"

# a state folder whose path is too long for a control socket
long=$WORK/a-state-folder-with-a-long-name-like-operators-choose/.lifeboat
out=$(lbj replicate plan.yaml --state "$long")
rc=$?
sockets=/tmp/lifeboat-ssh-$(id -u)-$(printf %s "$long/ssh" | sha256sum | cut -c1-12)
if [ $rc = 0 ] && [ -d "$sockets" ] && [ "$(stat -c %a "$sockets")" = 700 ]; then
	pass "a state folder too long for a control socket: the sockets go to a folder of this user in /tmp"
else fail "a state folder too long for a control socket: the sockets go to a folder of this user in /tmp" "$out"; fi
rm -rf "$long" "$sockets"

# faults on the protected side -------------------------------------------
# an older lifeboat on a host, with agent_install: false, then by default
printf '#!/bin/sh\necho %s\n' "'{\"lifeboat\":\"0.0.9\"}'" > lab/hosts/web/srv/.lifeboat/bin/lifeboat
sed 's/^    agent_dir: \/srv\/.lifeboat$/    agent_dir: \/srv\/.lifeboat\n    agent_install: false/' plan.yaml > pinned.yaml
masters_down
out=$(lbj replicate pinned.yaml)
if [ $? = 1 ] && [[ $out == *"host root@10.233.1.11 of web has lifeboat 0.0.9 at /srv/.lifeboat/bin/lifeboat, not this one"*"lifeboat agent install PLAN"* ]]; then
	pass "an older lifeboat on a host, with agent_install: false: the sync says so and what to run"
else fail "an older lifeboat on a host, with agent_install: false: the sync says so and what to run" "$out"; fi
out=$(lbj replicate plan.yaml)
if [ $? = 0 ] && [[ $out == *"lifeboat 0.0.9 at /srv/.lifeboat/bin/lifeboat replaced by lifeboat 0.1"* ]]; then
	pass "an older lifeboat on a host is replaced by this one, and the job says so"
else fail "an older lifeboat on a host is replaced by this one, and the job says so" "$out"; fi

# a host that cannot run this binary: a library it needs is broken there
lib=$(ldd "$LB_BIN" | awk '/libcjson/ {print $3}'); lib=$(readlink -f "$lib")
rm -f lab/hosts/db/srv/.lifeboat/bin/lifeboat
in_host db mount --bind /dev/null "$lib"
out=$(lbj agent install plan.yaml --site primary)
rc=$?
in_host db umount "$lib"
if [ $rc = 1 ] && [[ $out == *"host root@10.233.1.10 of db cannot run this lifeboat:"*"libcjson"* ]] &&
	[ ! -e lab/hosts/db/srv/.lifeboat/bin/lifeboat ] && [ -z "$(ls lab/hosts/db/srv/.lifeboat/bin)" ]; then
	pass "a host that cannot run this lifeboat (a library missing) is refused with the loader's words, nothing left there"
else fail "a host that cannot run this lifeboat (a library missing) is refused with the loader's words, nothing left there" "$out"; fi

# a full disk where the agent goes
in_host db mount -t tmpfs -o size=512k tmpfs /srv/.lifeboat
out=$(lbj replicate plan.yaml)
rc=$?
in_host db umount /srv/.lifeboat
if [ $rc = 1 ] && [[ $out == *"copying lifeboat to host root@10.233.1.10 of db failed:"*"No space left on device"* ]] &&
	[ "$(sql 10.233.1.10 'select count(*) from orders')" = 3 ]; then
	pass "a full disk on a protected host: the agent's copy fails with the reason, the host's data untouched"
else fail "a full disk on a protected host: the agent's copy fails with the reason, the host's data untouched" "$out"; fi

# a host whose clock is two days behind (libfaketime in every session of its sshd)
ft=$(ls /usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1 2>/dev/null)
if [ -n "$ft" ]; then
	cp lab/hosts/web/sshd_config sshd_config.web
	printf 'SetEnv LD_PRELOAD=%s FAKETIME=-2d\n' "$ft" >> lab/hosts/web/sshd_config
	reload_sshd web; masters_down
	before=$(lb points --store s3://fleet/replica --key-file store.key --json | grep -o '"id"' | wc -l)
	out=$(lbj replicate plan.yaml)
	rc=$?
	after=$(lb points --store s3://fleet/replica --key-file store.key --json | grep -o '"id"' | wc -l)
	cp sshd_config.web lab/hosts/web/sshd_config
	reload_sshd web; masters_down
	if [ $rc = 1 ] && [[ $out == *"host root@10.233.1.11 of web: its clock is 4"[78]"h"*"behind this host's"*"NTP"* ]] &&
		[ "$after" = $((before + 1)) ]; then
		pass "a host whose clock is 2 days behind takes no point (the others do) and the error says so"
	else fail "a host whose clock is 2 days behind takes no point (the others do) and the error says so" "$out" "$before -> $after"; fi
else
	fail "libfaketime is installed (Debian package faketime)"
fi

# a host whose link goes down in the middle of a sync
in_host db sh -c 'head -c 48M /dev/urandom > /srv/pgdata/ballast'
ip netns exec lbfl-db tc qdisc add dev eth0 root tbf rate 16mbit burst 64kb latency 400ms
masters_down
"$LB_BIN" replicate plan.yaml > cut.out 2>&1 &
lbpid=$!
for i in $(seq 100); do grep -q "sync/db/sync" .lifeboat/jobs/*-replicate-*/journal.jsonl 2>/dev/null &&
	host_ps db | grep -q "lifeboat sync" && break; sleep 0.1; done
sleep 1
ip -n lbfl-db link set eth0 down
t0=$(date +%s)
wait $lbpid; rc=$?
took=$(( $(date +%s) - t0 ))
out=$(cat cut.out)
if [ $rc = 1 ] && [ "$took" -le 30 ] && [[ $out == *"sync/db/sync"*"ssh to host root@10.233.1.10 of db failed"* ]]; then
	pass "a host whose link goes down mid-sync fails its step in ${took}s (keepalives), not a hang"
else fail "a host whose link goes down mid-sync fails its step in ${took}s (keepalives), not a hang" "$out"; fi
check "the store is sound after the cut (verify)" lb verify --store s3://fleet/replica --key-file store.key
ip -n lbfl-db link set eth0 up
ip -n lbfl-db route replace default via 10.233.1.1 # a link that went down lost its routes
ip netns exec lbfl-db tc qdisc del dev eth0 root
out=$(lbj replicate plan.yaml)
if [ $? = 0 ] && [ "$(host_ps db | grep -c 'lifeboat sync')" = 0 ]; then
	pass "once the link is back a replicate completes, and the cut sync is not left running on the host"
else fail "once the link is back a replicate completes, and the cut sync is not left running on the host" "$out" "$(host_ps db)"; fi
in_host db rm -f /srv/pgdata/ballast

# bad input --------------------------------------------------------------
sed 's/^    known_hosts: lab\/keys\/known_hosts$/    known_hosts: other_hosts/' plan.yaml > unknown.yaml
grep -v 10.233.1.11 lab/keys/known_hosts > other_hosts
masters_down
out=$(lbj replicate unknown.yaml)
if [ $? = 1 ] && [[ $out == *"ssh to host root@10.233.1.11 of web failed:"*"Host key verification failed"* ]]; then
	pass "a host whose key is not in known_hosts is refused"
else fail "a host whose key is not in known_hosts is refused" "$out"; fi
sed 's/db: root@10.233.1.10, web: root@10.233.1.11/db: root@10.233.1.99, web: root@10.233.1.11/; s/^    agent_dir: \/srv\/.lifeboat$/    agent_dir: \/srv\/.lifeboat\n    connect_timeout: 2s/' plan.yaml > gone.yaml
t0=$(date +%s)
out=$(lbj replicate gone.yaml)
rc=$? took=$(( $(date +%s) - t0 ))
if [ $rc = 1 ] && [ $took -le 15 ] && [[ $out == *"ssh to host root@10.233.1.99 of db failed:"*"timed out"* ]] &&
	[[ $out == *"done   sync/web/sync"* ]]; then
	pass "an unreachable host fails its machine's step within connect_timeout; the other host syncs"
else fail "an unreachable host fails its machine's step within connect_timeout; the other host syncs" "$out"; fi
sed 's|^store: s3://fleet/replica$|store: replica|' plan.yaml > local.yaml
expect 2 "*ssh provider's hosts reach the store themselves, so it must be a remote store*" \
	"a folder store is refused for ssh sites before anything runs" lb replicate local.yaml
sed 's/db: root@10.233.1.10,/db: "root@10.233.1.10:99999",/' plan.yaml > port.yaml
expect 2 "port.yaml:*host of 'db' (root@10.233.1.10:99999) has a port outside 1-65535*" \
	"a host with a bad port is an error at FILE:LINE:COL" lb validate port.yaml

# a planned failover, killed mid-way and resumed -------------------------
sql 10.233.1.10 "insert into orders (item) values ('last write')"
"$LB_BIN" failover plan.yaml --planned > failover.out 2>&1 &
lbpid=$!
# killed once the db's start is announced: its postgres may run, the journal does not say so
for i in $(seq 300); do grep -Eq '"kind":"process".*"step":"data/db/start"' .lifeboat/jobs/*-failover-*/journal.jsonl 2>/dev/null && break; sleep 0.05; done
kill -9 $lbpid; wait $lbpid 2>/dev/null
job=$(basename .lifeboat/jobs/*-failover-*)
out=$(lbj resume "$job")
pm=$(host_ps db2 | grep -c '^/usr/lib/postgresql/15/bin/postgres')
if [ $? = 0 ] && [ "$pm" = 1 ] && [ "$(sql 10.233.2.10 "select count(*) from orders where item = 'last write'")" = 1 ] &&
	[ "$(curl -s http://10.233.2.11:8080/app.env)" = "DB_HOST=10.233.2.10:5432" ]; then
	pass "kill -9 during a failover: resume completes it, one postgres on the host, the last write carried over"
else fail "kill -9 during a failover: resume completes it, one postgres on the host, the last write carried over" "$out" "$(host_ps db2)"; fi
if ! host_ps db | grep -q postgres && ! host_ps web | grep -q nginx; then pass "the planned failover stopped the primary hosts' services"
else fail "the planned failover stopped the primary hosts' services" "$(host_ps db)"; fi

sql 10.233.2.10 "insert into orders (item) values ('written at recovery')"
out=$(lbj reprotect plan.yaml && lbj failback plan.yaml)
if [ $? = 0 ] && [ "$(sql 10.233.1.10 "select count(*) from orders where item = 'written at recovery'")" = 1 ] &&
	[ "$(curl -s http://10.233.1.11:8080/app.env)" = "DB_HOST=10.233.1.10:5432" ] && ! host_ps db2 | grep -q postgres; then
	pass "reprotect and failback bring the shop home with what was written at recovery"
else fail "reprotect and failback bring the shop home with what was written at recovery" "$out"; fi
# every check above needs the store: when one failed because it was gone, say so
if host_ps store | grep -q s3rver; then pass "the store's server (s3rver) stayed up throughout"
else fail "the store's server (s3rver) stayed up throughout" "$(tail -20 lab/hosts/store/s3rver.log)"; fi
echo "1..$T_N"
