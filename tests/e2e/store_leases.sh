#!/usr/bin/env bash
# Locks of remote stores are lease objects (S3 here, s3rver on 127.0.0.1):
# prune is refused while a sync holds the store, also across renewals of
# the sync's lease; the lease of a killed sync on another host (another UTS
# namespace: another host name) blocks prune until it expires, then prune
# takes it over with a note; one whose process is gone on this host is
# taken over at once; nothing of a lease is left after a command.
source "$(dirname "$0")/lib.sh"
source "$E2E_DIR/lib_stores.sh"
start_s3rver || { fail "s3rver starts"; exit 1; }
URL=$S3_URL
# lease objects in the store's locks/ (s3rver keeps objects as files; so does sshd)
lease_files() { find "$WORK/s3rver" "$WORK/sshd/data" -path '*/locks/*' \( -name 's-*' -o -name 'x-*' \) \
	! -name '*._S3rver_metadata.json' ! -name '*.md5' 2>/dev/null; }
leases() { lease_files | wc -l; }
# until_expired: waits until the leases there now are past the expiry they
# name (whole seconds), so that the next command finds them stale
until_expired() {
	local e
	e=$(lease_files | xargs -r cat 2>/dev/null | grep -o '"expires":[0-9]*' | cut -d: -f2 | sort -n | tail -1)
	while [ "$(date +%s)" -le "${e:-0}" ]; do sleep 0.1; done
}
# prune_while_held URL PID: stops the sync, tries prune while its lease is
# there, keeps it stopped a little longer (well within its lease), lets it
# go on; counts refusals (busy) and prunes that got in
prune_while_held() {
	local url=$1 pid=$2
	busy=0 got_in=0
	while kill -STOP "$pid" 2>/dev/null; do
		if [ "$(leases)" != 0 ]; then   # (a sync at its very end has released it)
			if lb prune --store "$url" --keep-last 1 2>prune.err; then got_in=$((got_in + 1))
			else grep -q "locked by sync" prune.err && busy=$((busy + 1)); fi
		fi
		sleep 0.8
		kill -CONT "$pid"
		sleep 0.4
	done
}
$GEN create img 300M "$SEED" >/dev/null 2>&1
check "store init" lb store init "$URL"
check "a first sync" lb sync img --store "$URL" --as vm/disk

# a long sync with 5-second leases (renewed every 2 s), slowed down by
# stops far shorter than that: prune never gets in. The whole image is
# rewritten: as long a sync, and the prune after it deletes the old packs
# instead of repacking most of them.
$GEN mutate img 100 $((SEED + RANDOM)) >/dev/null 2>&1
LIFEBOAT_LEASE_SECONDS=5 "$LB_BIN" sync img --store "$URL" --as vm/disk --threads 1 >/dev/null 2>sync.err &
SYNC=$!
for _ in $(seq 100); do [ "$(leases)" != 0 ] && break; sleep 0.05; done   # it holds its lease
prune_while_held "$URL" $SYNC
wait $SYNC; rc=$?
[ $rc = 0 ] && pass "the sync completes" || fail "the sync completes" "$(cat sync.err)"
[ $busy -gt 0 ] && [ $got_in = 0 ] && pass "prune was refused $busy times while the sync held its lease (renewed under new names)" ||
	fail "prune refused while the sync runs" "busy $busy, got in $got_in" "$(cat prune.err)"
check "after the sync, prune runs" lb prune --store "$URL" --keep-last 1
check "the store verifies" lb verify --store "$URL" --full

# the same on SFTP, which cannot overwrite an object: renewals are new
# objects. The sync is slowed down (stopped while each prune is tried,
# never near its lease's lifetime) so that it outlives several renewals.
start_sshd || { fail "sshd starts"; exit 1; }
check "sftp: store init" lb store init "$SFTP_URL"
check "sftp: a first sync" lb sync img --store "$SFTP_URL" --as vm/disk
$GEN mutate img 100 $((SEED + RANDOM)) >/dev/null 2>&1
LIFEBOAT_LEASE_SECONDS=5 "$LB_BIN" sync img --store "$SFTP_URL" --as vm/disk --threads 1 >/dev/null 2>sync.err &
SYNC=$!
for _ in $(seq 100); do [ "$(leases)" != 0 ] && break; sleep 0.05; done
t0=$(date +%s)
prune_while_held "$SFTP_URL" $SYNC
wait $SYNC; rc=$?
took=$(( $(date +%s) - t0 ))
[ $rc = 0 ] && [ $busy -gt 0 ] && [ $got_in = 0 ] && [ $took -ge 6 ] &&
	pass "sftp: over ${took}s (lease 5s), prune was refused $busy times: the sync's renewals held" ||
	fail "sftp: prune refused across renewals" "sync exit $rc after ${took}s, busy $busy, got in $got_in" "$(cat sync.err prune.err)"

# a sync stopped longer than its lease: prune takes the store over, and the
# sync, once it goes on, stops without writing a point
$GEN mutate img 40 $((SEED + RANDOM)) >/dev/null 2>&1
LIFEBOAT_LEASE_SECONDS=3 "$LB_BIN" sync img --store "$SFTP_URL" --as vm/disk --threads 1 >/dev/null 2>sync.err &
SYNC=$!
sleep 0.5
kill -STOP $SYNC
until_expired
lb prune --store "$SFTP_URL" --keep-last 1 >/dev/null 2>prune.err && pass "prune takes over the expired lease of a stopped sync" ||
	fail "prune takes over an expired lease" "$(cat prune.err)"
before=$(lb points --store "$SFTP_URL" --json)
kill -CONT $SYNC; wait $SYNC; rc=$?
[ $rc != 0 ] && grep -q "lease" sync.err && pass "the sync that lost its lease stops (exit $rc): $(cat sync.err)" ||
	fail "the sync that lost its lease stops" "exit $rc" "$(cat sync.err)"
[ "$(lb points --store "$SFTP_URL" --json)" = "$before" ] && pass "and wrote no point" || fail "and wrote no point"
check "the store verifies" lb verify --store "$SFTP_URL" --full
stop_servers
start_s3rver "$S3_PORT" || { fail "s3rver restarts"; exit 1; }

# a sync killed on another host: its lease blocks prune until it expires
$GEN mutate img 40 $((SEED + RANDOM)) >/dev/null 2>&1
LIFEBOAT_LEASE_SECONDS=4 unshare --uts sh -c "hostname other-host; exec \"$LB_BIN\" sync img --store \"$URL\" --as vm/disk --threads 1" >/dev/null 2>&1 &
OTHER=$!
for _ in $(seq 100); do [ "$(leases)" != 0 ] && break; sleep 0.05; done
sleep 0.3
kill -9 $OTHER; wait $OTHER 2>/dev/null
expect 1 "*locked by sync on other-host*" "the killed sync's live lease blocks prune" lb prune --store "$URL" --keep-last 1
until_expired
err=$(lb prune --store "$URL" --keep-last 1 2>&1 >/dev/null); rc=$?
[ $rc = 0 ] && [[ $err == *"took over the stale lease of sync on other-host"* ]] && pass "after it expired, prune takes it over and says so" ||
	fail "stale lease taken over" "exit $rc" "$err"

# a sync killed on this host: prune takes its lease over at once
"$LB_BIN" sync img --store "$URL" --as vm/disk --threads 1 >/dev/null 2>&1 &
MINE=$!
for _ in $(seq 100); do [ "$(leases)" != 0 ] && break; sleep 0.05; done
sleep 0.3
kill -9 $MINE; wait $MINE 2>/dev/null
err=$(lb prune --store "$URL" --keep-last 1 2>&1 >/dev/null); rc=$?
[ $rc = 0 ] && [[ $err == *"whose process is gone"* || -z $err ]] && pass "a lease whose process is gone here is taken over at once" ||
	fail "dead local holder" "exit $rc" "$err"
[ "$(leases)" = 0 ] && pass "no lease is left behind" || fail "no lease is left behind" "$(leases) lease objects"
check "and the store verifies" lb verify --store "$URL" --full
