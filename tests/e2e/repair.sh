#!/usr/bin/env bash
# repair rebuilds a lost or damaged index from the packs' own headers,
# writes the new index before removing the old, and reports what it could
# not recover: damaged packs and the points that still lack chunks.
. "$(dirname "$0")/lib.sh"

json_get() { "$PYTHON" -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }

# Two points, the second needing the first pack, then the first index file lost.
lb store init st >/dev/null
"$GEN" create a.img 4M "$SEED"
lb sync a.img --store st --as m/d >/dev/null
first_index=$(ls st/index)
printf 'changed' | dd of=a.img bs=1 seek=100 conv=notrunc status=none
lb sync a.img --store st --as m/d >/dev/null
rm "st/index/$first_index"

expect 1 "*chunks missing*lifeboat repair*" "verify finds the missing chunks and suggests repair" lb verify --store st
before=$(tree_digest st)
out=$(lb repair --store st --dry-run)
check "repair --dry-run changes nothing" test "$before" = "$(tree_digest st)"
case $out in *"would repair"*"2 of 2 packs indexed (1 named by no index before)"*"0 not whole"*) pass "the dry run says what it would do" ;;
	*) fail "the dry run says what it would do" "$out" ;; esac
# (LeakSanitizer cannot run under ptrace: no leak check for this run)
ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 strace -f -qq -o trace.txt -e trace=rename,renameat,renameat2,unlink,unlinkat "$LB_BIN" repair --store st >/dev/null
check "repair puts the point back together (exit 0)" test $? = 0
new_at=$(grep -n 'index/[0-9a-f]\{64\}"' trace.txt | grep -m1 'rename' | cut -d: -f1)
old_at=$(grep -n 'unlink.*index/' trace.txt | head -1 | cut -d: -f1)
check "the new index is in place before an old index file is removed" test -n "$new_at" -a -n "$old_at" -a "${new_at:-0}" -lt "${old_at:-0}"
check "verify --full passes" lb verify --store st --full
check "prune --keep-last 1 works again" lb prune --store st --keep-last 1
lb restore --store st m/d out.img >/dev/null
check "the kept point restores bit-exact" cmp a.img out.img
rm -f out.img
check "a repair of a sound store changes no point" sh -c "'$LB_BIN' repair --store st --json | grep -q '\"points_incomplete\":0'"

# A damaged index file is replaced.
printf 'garbage' | dd of="st/index/$(ls st/index | head -1)" bs=1 seek=60 conv=notrunc status=none
expect 1 "*cannot be read*lifeboat repair*" "verify suggests repair for a damaged index" lb verify --store st
out=$(lb repair --store st --json)
check "repair replaces the damaged index file" test "$(json_get index_files_damaged <<<"$out")" = 1
check "and the store verifies" lb verify --store st --full

# Encrypted store, two datasets in their own packs; one pack's header is
# damaged and every index file lost: what cannot be recovered is named.
lb store init est --encrypt --key-file k >/dev/null
"$GEN" create b.img 4M $((SEED + 1))
lb sync a.img --store est --as m/a --key-file k >/dev/null
pack_a=$(find est/packs -type f)
lb sync b.img --store est --as m/b --key-file k >/dev/null
size=$(stat -c %s "$pack_a")
printf 'XXXX' | dd of="$pack_a" bs=1 seek=$((size - 40)) conv=notrunc status=none
rm est/index/*
out=$(lb repair --store est --key-file k --json); rc=$?
check "repair exits 1 when it cannot recover everything" test $rc = 1
check "it counts the damaged pack" test "$(json_get packs_damaged <<<"$out")" = 1
check "and the one point that cannot be restored whole" test "$(json_get points_incomplete <<<"$out")" = 1
case $out in *"${pack_a#est/} header: authentication failed"*"point m/a/"*) pass "the problems name the pack and the point" ;;
	*) fail "the problems name the pack and the point" "$out" ;; esac
err=$(lb repair --store est --key-file k 2>&1 >/dev/null)
case $err in *"${pack_a#est/} header"*"cannot be indexed"*"point m/a/"*"cannot be restored"*) pass "the text output names them on stderr" ;;
	*) fail "the text output names them on stderr" "$err" ;; esac
lb restore --store est m/b out.img --key-file k >/dev/null
check "the other point restores bit-exact" cmp b.img out.img
rm -f out.img
echo 0123456789abcdef > wrong.key
expect 2 "*wrong key*" "repair needs the right key" lb repair --store est --key-file wrong.key

# Points sharing lost chunks are each reported, by verify and by repair.
lb store init sh >/dev/null
p1=$(lb sync a.img --store sh --as m/d); p2=$(lb sync a.img --store sh --as m/d)
rm sh/index/*
err=$(lb verify --store sh 2>&1)
case $err in *"point m/d/$p1"*"point m/d/$p2"*|*"point m/d/$p2"*"point m/d/$p1"*) pass "verify reports both points sharing the lost chunks" ;;
	*) fail "verify reports both points sharing the lost chunks" "$err" ;; esac
mv sh/packs sh/packs.lost; mkdir sh/packs
out=$(lb repair --store sh --json)
check "repair counts both as not whole" test "$(json_get points_incomplete <<<"$out")" = 2

# Repair needs the store alone.
flock -s st/locks/store.lock sleep 3 & lpid=$!
sleep 0.2
expect 1 "*in use*needs it alone*" "repair while the store is in use fails cleanly" lb repair --store st
kill $lpid; wait $lpid 2>/dev/null
expect 2 "*unexpected argument*" "repair takes no argument" lb repair --store st extra
check "repair --help" sh -c "'$LB_BIN' repair --help | grep -q '^usage: lifeboat repair'"
