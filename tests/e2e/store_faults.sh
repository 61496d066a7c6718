#!/usr/bin/env bash
# Remote stores under faults: a seeded fault-injecting proxy in front of
# the real servers (resets, stalls, 500/503, cut answers), the server
# killed in the middle of a sync, and lifeboat killed in the middle of an
# upload. Every command either succeeds through retries or fails with one
# clear line; the store always verifies afterwards; what is restored is
# bit-exact. Replay with LIFEBOAT_TEST_SEED.
source "$(dirname "$0")/lib.sh"
source "$E2E_DIR/lib_stores.sh"
PROXY=$E2E_DIR/../tools/faultproxy.py
export LIFEBOAT_IO_TIMEOUT=3 LIFEBOAT_PASSPHRASE=faults
$GEN create img 20M "$RANDOM" >/dev/null 2>&1
"${GEN%/*}/gentree" create tree 200 "$RANDOM" >/dev/null 2>&1

start_proxy() { # MODE UPSTREAM ARGS...: sets PROXY_PORT, PROXY_PID
	local mode=$1 up=$2; shift 2
	PROXY_PORT=$(free_port)
	$PYTHON "$PROXY" "$PROXY_PORT" "$up" "$mode" --seed "$SEED" "$@" 2>>"$WORK/proxy.log" &
	PROXY_PID=$!
	SERVER_PIDS+=("$PROXY_PID")
	wait_port "$PROXY_PORT" 10
}

# ok_or_clear DESC COMMAND...: success, or a failure with one line and no crash.
ok_or_clear() {
	local desc=$1 err rc; shift
	err=$("$@" 2>&1 >/dev/null); rc=$?
	if [ $rc = 0 ]; then pass "$desc: succeeded through the faults"; return 0; fi
	if { [ $rc = 1 ] || [ $rc = 2 ]; } && [ "$(grep -c . <<<"$err")" = 1 ] && [[ $err == "lifeboat "* ]]; then
		pass "$desc: failed with one clear line ($err)"; return 1
	fi
	fail "$desc: neither success nor a clear failure" "exit $rc" "$err"; return 1
}

faulty_round() { # NAME URL: sync, restore, verify, prune through the proxy
	local name=$1 url=$2
	ok_or_clear "$name sync image" lb sync img --store "$url" --as vm/disk
	ok_or_clear "$name sync tree" lb sync tree --store "$url" --as vm/www
	rm -rf r.img r.tree
	if ok_or_clear "$name restore image" lb restore --store "$url" vm/disk r.img; then
		check "$name: the image restored through faults is bit-exact" cmp img r.img
	fi
	if ok_or_clear "$name restore tree" lb restore --store "$url" vm/www r.tree; then
		check "$name: the tree restored through faults is exact" diff -r tree r.tree
	fi
	ok_or_clear "$name verify --full" lb verify --store "$url" --full
	ok_or_clear "$name prune" lb prune --store "$url" --keep-last 1
}

# --- S3 behind the proxy
start_s3rver || { fail "s3rver starts"; exit 1; }
DIRECT=$AWS_ENDPOINT_URL
check "s3: store init" lb store init "$S3_URL" --encrypt
start_proxy --http "$S3_PORT" --error 0.08 --reset 0.04 --truncate 0.04 --stall 0.01 --stall-seconds 30
export AWS_ENDPOINT_URL=http://127.0.0.1:$PROXY_PORT
# a stalled request is given up after a second (the proxy answers the
# others in a fraction of that)
LIFEBOAT_IO_TIMEOUT=1 faulty_round s3 "$S3_URL"
export AWS_ENDPOINT_URL=$DIRECT
check "s3: the store verifies afterwards" lb verify --store "$S3_URL" --full
grep -q ' error \| reset \| truncate ' "$WORK/proxy.log" && pass "s3: the proxy did inject faults" || fail "s3: the proxy did inject faults"

# --- the S3 server killed in the middle of a sync, then restarted
$GEN mutate img 30 >/dev/null 2>&1
LIFEBOAT_RETRIES=3 "$LB_BIN" sync img --store "$S3_URL" --as vm/disk >/dev/null 2>sync.err &
SYNC=$!
# stopped at a random early moment (the whole sync takes a fraction of a
# second), so the server dies while it runs, not after it
sleep 0.0$((RANDOM % 8 + 2))
kill -STOP "$SYNC"
kill -9 "$S3_PID"; wait "$S3_PID" 2>/dev/null
kill -CONT "$SYNC"
t0=$(date +%s)
wait "$SYNC"; rc=$?
[ $rc != 0 ] && [ $(( $(date +%s) - t0 )) -lt 60 ] && pass "a sync whose server died fails within a minute (exit $rc)" ||
	fail "a sync whose server died fails within a minute" "exit $rc" "$(cat sync.err)"
[ "$(grep -c . sync.err)" = 1 ] && pass "... with one clear line: $(cat sync.err)" || fail "... with one clear line" "$(cat sync.err)"
start_s3rver "$S3_PORT" || { fail "s3rver restarts"; exit 1; }
check "after the restart the store verifies" lb verify --store "$S3_URL" --full
check "and the next sync completes" lb sync img --store "$S3_URL" --as vm/disk
rm -f r.img; lb restore --store "$S3_URL" vm/disk r.img >/dev/null 2>&1
check "and restores bit-exact" cmp img r.img

# --- lifeboat killed with -9 in the middle of an upload
$GEN mutate img 30 >/dev/null 2>&1
before=$(lb points --store "$S3_URL" --json)
"$LB_BIN" sync img --store "$S3_URL" --as vm/disk >/dev/null 2>&1 &
SYNC=$!
sleep 0.0$((RANDOM % 8 + 2))   # early: the whole sync takes a fraction of a second
kill -9 "$SYNC" 2>/dev/null; wait "$SYNC" 2>/dev/null
[ "$(lb points --store "$S3_URL" --json)" = "$before" ] && pass "kill -9 mid-upload: no new point" ||
	pass "kill -9 mid-upload: the sync had finished first"
check "kill -9 mid-upload: the store verifies" lb verify --store "$S3_URL" --full
check "kill -9 mid-upload: the next sync completes" lb sync img --store "$S3_URL" --as vm/disk
out=$(lb prune --store "$S3_URL" --keep-last 1 --json 2>&1)
[[ $out == *'"points_forgotten"'* ]] && pass "prune cleans up after the killed sync" || fail "prune cleans up after the killed sync" "$out"
check "and the store still verifies" lb verify --store "$S3_URL" --full
stop_servers

# --- Azure behind the proxy
start_azurite || { fail "azurite starts"; exit 1; }
check "azure: store init" lb store init "$AZ_URL" --encrypt
DIRECT=$AZURE_STORAGE_CONNECTION_STRING
start_proxy --http "$AZ_PORT" --error 0.08 --reset 0.04 --truncate 0.04
export AZURE_STORAGE_CONNECTION_STRING=${DIRECT//127.0.0.1:$AZ_PORT/127.0.0.1:$PROXY_PORT}
faulty_round azure "$AZ_URL"
export AZURE_STORAGE_CONNECTION_STRING=$DIRECT
check "azure: the store verifies afterwards" lb verify --store "$AZ_URL" --full
stop_servers

# --- SFTP behind a TCP proxy (connections reset or cut short)
start_sshd || { fail "sshd starts"; exit 1; }
check "sftp: store init" lb store init "$SFTP_URL" --encrypt
start_proxy --tcp "$SSH_PORT" --reset 0.1 --truncate 0.1
echo "[127.0.0.1]:$PROXY_PORT $(cut -d' ' -f1,2 "$WORK/sshd/host_ed25519.pub")" >>"$LIFEBOAT_SSH_KNOWN_HOSTS"
faulty_round sftp "${SFTP_URL/:$SSH_PORT/:$PROXY_PORT}"
check "sftp: the store verifies afterwards" lb verify --store "$SFTP_URL" --full
