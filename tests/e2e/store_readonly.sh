#!/usr/bin/env bash
# A read-only replica (here a read-only bind mount, as a write-protected
# mount or a snapshot would be): every reading command works, with or
# without a lock file; writing commands fail cleanly.
. "$(dirname "$0")/lib.sh"

mounts=()
cleanup() { for m in "${mounts[@]}"; do umount "$m" 2>/dev/null; done; cleanup_work; }
trap cleanup EXIT
ro_mount() { # SRC DST: DST shows SRC read-only
	mkdir -p "$2" && mount --bind "$1" "$2" && mounts+=("$WORK/$2") && mount -o remount,bind,ro "$2"
}

lb store init st --encrypt --key-file k >/dev/null
export LIFEBOAT_KEY_FILE=$WORK/k
"$GEN" create a.img 8M "$SEED"
mkdir -p tree/sub; echo hello > tree/sub/f; ln -s sub/f tree/link
lb sync a.img --store st --as m/disk >/dev/null
lb sync tree --store st --as m/tree >/dev/null

if ! ro_mount st ro; then
	fail "a read-only bind mount can be made (the test needs root)"; exit 1
fi
check "the mount is read-only" sh -c '! touch ro/probe 2>/dev/null'
before=$(tree_digest st)
check "points works" lb points --store ro
check "restore of an image works" lb restore --store ro m/disk out.img
check "and is bit-exact" cmp a.img out.img
check "restore of a tree works" lb restore --store ro m/tree out.tree
check "and is the same tree" diff -r tree out.tree
check "restore --delta works" lb restore --store ro m/disk out.img --delta
check "verify --full works" lb verify --store ro --full
check "repair --dry-run works" lb repair --store ro --dry-run
expect 1 "*Read-only file system*" "sync fails cleanly" lb sync a.img --store ro --as m/disk
expect 1 "*Read-only file system*" "prune fails cleanly" lb prune --store ro --keep-last 1
check "nothing changed" test "$before" = "$(tree_digest st)"

# A copy without the lock file, or without locks/ at all (snapshots and copies drop empty folders).
cp -a st nolock; rm nolock/locks/store.lock
cp -a st nolocks; rm -r nolocks/locks
ro_mount nolock ro2 && ro_mount nolocks ro3 || fail "more read-only mounts"
check "restore from a read-only store without a lock file" lb restore --store ro2 m/disk out2.img
check "verify of a read-only store without locks/" lb verify --store ro3 --full
check "restore from a read-only store without locks/" lb restore --store ro3 m/disk out3.img
check "both bit-exact" sh -c 'cmp a.img out2.img && cmp a.img out3.img'

# Writable again: a missing locks/ is made by the first command that locks.
check "a writable store without locks/ takes a prune" lb prune --store nolocks --keep-last 1
check "and has its lock file again" test -f nolocks/locks/store.lock
