#!/usr/bin/env bash
# prune never deletes what a kept point needs: it refuses while the index
# cannot place a chunk (a lost or damaged index file), cleans tmp/, counts
# leftovers right when packs are named twice, and sees every machine name.
. "$(dirname "$0")/lib.sh"

json_get() { "$PYTHON" -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }

# Two points: the second changes one block, so it needs the first pack.
two_points() { # STORE
	rm -rf "$1"; lb store init "$1" >/dev/null
	"$GEN" create a.img 4M "$SEED"
	lb sync a.img --store "$1" --as m/d >/dev/null
	first_index=$(ls "$1"/index)
	printf 'changed' | dd of=a.img bs=1 seek=100 conv=notrunc status=none
	lb sync a.img --store "$1" --as m/d >/dev/null
	cp a.img want.img
}

two_points st
rm "st/index/$first_index"
before=$(tree_digest st)
expect 1 "*needs * chunks the index does not place*lifeboat repair*" \
	"prune refuses while a kept point needs chunks the index lost" lb prune --store st --keep-last 1
check "and deletes nothing (no pack, no point)" test "$before" = "$(tree_digest st)"
expect 1 "*needs * chunks the index does not place*" "a dry run refuses too" lb prune --store st --keep-last 1 --dry-run
lb verify --store st >/dev/null 2>&1
check "verify still finds every pack present" test "$(find st/packs -type f | wc -l)" = 2

# A damaged index file is refused as damage, and nothing is deleted.
two_points st2
printf 'garbage' | dd of="st2/index/$first_index" bs=1 seek=60 conv=notrunc status=none
before=$(tree_digest st2)
expect 1 "*index/$first_index*lifeboat repair*" "prune with a damaged index file fails naming it" lb prune --store st2 --keep-last 1
check "and deletes nothing" test "$before" = "$(tree_digest st2)"

# Leftovers of a killed sync in tmp/ are removed by prune.
two_points st3
"$GEN" create big.img 64M $((SEED + 1))
"$LB_BIN" sync big.img --store st3 --as m/big --threads 1 >/dev/null 2>&1 & pid=$!
for _ in $(seq 100); do ls st3/tmp | grep -q 'pack-.*\.tmp$' && break; sleep 0.05; done
kill -9 $pid; wait $pid 2>/dev/null
n_tmp=$(ls st3/tmp | wc -l)
check "a killed sync left temporary files in tmp/" test "$n_tmp" -ge 1
out=$(lb prune --store st3 --keep-last 1 --json)
check "prune removes every temporary file" test -z "$(ls st3/tmp)"
check "and counts them as leftovers" test "$(json_get leftovers_removed <<<"$out")" -ge "$n_tmp"
lb restore --store st3 m/d out.img >/dev/null
check "the kept point restores bit-exact" cmp want.img out.img
rm -f out.img

# A pack named by two index files (an interrupted prune leaves that) is one pack.
two_points st4
idx=$(ls st4/index | head -1)
cp "st4/index/$idx" "st4/index/$(printf '%064d' 0)"
out=$(lb prune --store st4 --keep-last 1 --json)
check "the leftover count does not underflow" test "$(json_get leftovers_removed <<<"$out")" = 0
check "the store verifies" lb verify --store st4 --full
lb restore --store st4 m/d out.img >/dev/null
check "the kept point restores bit-exact" cmp want.img out.img
rm -f out.img

# ".tmp" inside a machine or dataset name is part of the name, not a temporary object.
rm -rf st5; lb store init st5 >/dev/null
lb sync a.img --store st5 --as db.tmp/disk.tmp >/dev/null
check "points lists a machine named db.tmp" sh -c "'$LB_BIN' points --store st5 --json | grep -q '\"db.tmp\"'"
lb prune --store st5 --keep-last 1 >/dev/null
lb restore --store st5 db.tmp/disk.tmp out.img >/dev/null
check "its point survives prune and restores bit-exact" cmp a.img out.img
