#!/usr/bin/env bash
# A replica store on an SFTP server (OpenSSH's sshd with internal-sftp on
# 127.0.0.1, its own host and client keys): every command, and host keys
# that are unknown, changed or not checkable are refused.
source "$(dirname "$0")/lib.sh"
source "$E2E_DIR/lib_stores.sh"
start_sshd || { fail "sshd starts"; exit 1; }
remote_suite "$SFTP_URL" "$(sed -n 2p "$LIFEBOAT_SSH_KEY")"

# repair on SFTP: an index object lost, rebuilt from the packs' headers
export LIFEBOAT_PASSPHRASE="correct horse battery staple"
rm -f "$(find "$WORK/sshd/data/replica/index" -type f | head -1)"
expect 1 "*repair*" "verify finds the lost index and suggests repair" lb verify --store "$SFTP_URL"
check "repair rebuilds the index over SFTP" lb repair --store "$SFTP_URL"
check "and the store verifies" lb verify --store "$SFTP_URL" --full
unset LIFEBOAT_PASSPHRASE

KH=$LIFEBOAT_SSH_KNOWN_HOSTS
: >empty_known_hosts
expect 2 "*host key*not recorded*refusing*" "an unknown host key is refused" \
	env LIFEBOAT_SSH_KNOWN_HOSTS=$PWD/empty_known_hosts "$LB_BIN" points --store "$SFTP_URL"
ssh-keygen -q -t ed25519 -N '' -f other_host
echo "[127.0.0.1]:$SSH_PORT $(cut -d' ' -f1,2 other_host.pub)" >changed_known_hosts
expect 2 "*host key*NOT the one recorded*" "a changed host key is refused" \
	env LIFEBOAT_SSH_KNOWN_HOSTS=$PWD/changed_known_hosts "$LB_BIN" points --store "$SFTP_URL"
expect 2 "*no known_hosts file*" "no known_hosts file: refused, not trusted" \
	env LIFEBOAT_SSH_KNOWN_HOSTS=$PWD/missing "$LB_BIN" points --store "$SFTP_URL"
ssh-keygen -q -t ed25519 -N '' -f stranger
expect 2 "*refused the key*" "a key the server does not know" \
	env LIFEBOAT_SSH_KEY=$PWD/stranger "$LB_BIN" points --store "$SFTP_URL"
expect 2 "*give the user*" "a URL without a user" lb points --store "sftp://127.0.0.1:$SSH_PORT/x"
expect 2 "*password does not belong*" "a password in the URL" lb points --store "sftp://u:pw@127.0.0.1/x"
expect 2 "*not a store*" "a folder that is no store" lb points --store "${SFTP_URL%/replica}/nothing-here"
