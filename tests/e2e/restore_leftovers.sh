#!/usr/bin/env bash
# A restore killed with -9 leaves its work file (image) or work folder
# (tree) beside DEST. The next restore to the same DEST removes it, once it
# is clearly abandoned (no restore holds its lock, unchanged for a minute);
# the work file of a restore that still runs is left alone.
. "$(dirname "$0")/lib.sh"
"$GEN" create img 256M "$SEED" >/dev/null
"${GEN%/*}/gentree" create tree 400 "$SEED" >/dev/null
lb store init st >/dev/null
lb sync img --store st --as m/disk >/dev/null 2>&1
lb sync tree --store st --as m/www >/dev/null 2>&1
age() { touch -h -d '2 minutes ago' "$@"; }

# kill -9 an image restore once its work file exists
"$LB_BIN" restore --store st m/disk out.img --threads 1 >/dev/null 2>&1 &
pid=$!
for _ in $(seq 200); do compgen -G '.out.img.lifeboat-*' >/dev/null && break; sleep 0.01; done
kill -9 $pid; wait $pid 2>/dev/null
left=$(compgen -G '.out.img.lifeboat-*')
[ -n "$left" ] && pass "a killed image restore leaves its work file ($left)" || fail "a killed image restore leaves its work file"
age .out.img.lifeboat-*
check "the next restore succeeds" lb restore --store st m/disk out.img
check "and is bit-exact" cmp img out.img
[ -z "$(compgen -G '.out.img.lifeboat-*')" ] && pass "the abandoned work file is gone" ||
	fail "the abandoned work file is gone" "$(ls -la .out.img.lifeboat-* 2>&1)"

# a restore that runs (stopped here) keeps its work file, even an old-looking one
rm -f out.img
"$LB_BIN" restore --store st m/disk out.img --threads 1 >/dev/null 2>&1 &
pid=$!
for _ in $(seq 200); do compgen -G '.out.img.lifeboat-*' >/dev/null && break; sleep 0.01; done
kill -STOP $pid
running=$(compgen -G '.out.img.lifeboat-*')
age .out.img.lifeboat-*
lb restore --store st m/disk out.img >/dev/null 2>&1
[ -e "$running" ] && pass "a running restore's work file is left alone" || fail "a running restore's work file is left alone"
kill -CONT $pid; wait $pid
[ ! -e "$running" ] && pass "and that restore cleans up after itself" || fail "and that restore cleans up after itself"

# the same for a tree restore's work folder
"$LB_BIN" restore --store st m/www out.tree --threads 1 >/dev/null 2>&1 &
pid=$!
for _ in $(seq 300); do [ -n "$(compgen -G '.out.tree.lifeboat-*/*')" ] && break; sleep 0.01; done
kill -9 $pid; wait $pid 2>/dev/null
if [ -n "$(compgen -G '.out.tree.lifeboat-*')" ]; then
	pass "a killed tree restore leaves its work folder"
	age .out.tree.lifeboat-*
	check "the next tree restore succeeds" lb restore --store st m/www out.tree
	check "and is exact" diff -r tree out.tree
	[ -z "$(compgen -G '.out.tree.lifeboat-*')" ] && pass "the abandoned work folder is gone" || fail "the abandoned work folder is gone"
else
	pass "the tree restore finished before the kill (nothing to clean)"
fi
