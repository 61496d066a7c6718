#!/usr/bin/env bash
# Store format 3 seals small data chunks in groups, so that neighbours
# compress together. A store of format 2 keeps sealing them alone (readers
# of format 2 must still read it), and grouped stores survive prune,
# repair and copy.
. "$(dirname "$0")/lib.sh"

# An image whose 16 KiB blocks are each random text (base64), but every
# block repeats three quarters of the ones before: alone a block shrinks
# only by its alphabet, beside its neighbours three quarters of it go.
"$PYTHON" - "$SEED" <<'PY'
import base64, random, sys
r = random.Random(int(sys.argv[1]))
def text():
    return base64.b64encode(r.randbytes(3072))
last = [text() for _ in range(3)]
with open("halves.img", "wb") as f:
    for _ in range(256):
        last = [text()] + last[:3]
        f.write(b"".join(last))
PY
added() { lb sync "$1" --store "$2" --as "$3" --json "${@:4}" | "$PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["bytes_added"])'; }

K2=$E2E_DIR/fixtures/store-v2.key
cp -r "$E2E_DIR/fixtures/store-v2" v2; mkdir -p v2/tmp v2/locks
for i in $(seq 1 600); do echo "line $i of the format 2 fixture image"; done > v2.img
check "a format 2 store opens" lb verify --store v2 --full --key-file "$K2"
lb restore --store v2 m/d v2.out --key-file "$K2" >/dev/null
check "its point restores bit-exact" cmp v2.img v2.out
a2=$(added halves.img v2 m/halves --key-file "$K2")
check "its new syncs seal each chunk alone, as format 2 readers expect ($a2 bytes for 4 MiB)" test "$a2" -gt 2900000
check "its config stays format 2" grep -q '"format":[[:space:]]*2' v2/config
check "and it stays sound" lb verify --store v2 --full --key-file "$K2"

lb store init st --encrypt --key-file k --pack-size 1MiB >/dev/null
export LIFEBOAT_KEY_FILE=$WORK/k
a3=$(added halves.img st m/d)
check "a format 3 store seals neighbours together: a quarter of the bytes ($a3 for 4 MiB)" test "$a3" -lt 1400000
lb restore --store st m/d h.out >/dev/null
check "the grouped point restores bit-exact" cmp halves.img h.out
check "verify --full reads every member of every group" lb verify --store st --full

# A second point keeps the first 8 blocks and replaces the rest: forgetting
# the first point leaves a group with 8 live members in a pack of dead ones.
cp halves.img b.img
head -c $((4096 * 1024 - 131072)) /dev/urandom | dd of=b.img bs=128K seek=1 conv=notrunc status=none
lb sync b.img --store st --as m/d >/dev/null
out=$(lb prune --store st m/d --keep-last 1 --json)
case $out in *'"packs_repacked":0'*|*'"packs_repacked": 0'*) fail "prune forgets the first point and repacks groups that are partly live" "$out" ;;
	*) pass "prune forgets the first point and repacks groups that are partly live" ;; esac
check "the store is sound after prune" lb verify --store st --full
lb restore --store st m/d b.out >/dev/null
check "the remaining point restores bit-exact" cmp b.img b.out

rm -f st/index/*
check "repair rebuilds the index of grouped packs from their headers" lb repair --store st
rm -f b.out; lb restore --store st m/d b.out >/dev/null
check "and the point restores bit-exact" cmp b.img b.out

lb store init st2 --encrypt --key-file k2 >/dev/null
check "a grouped store copies to another store" lb store copy st st2 --to-key-file k2
rm -f b.out; lb restore --store st2 m/d b.out --key-file k2 >/dev/null
check "where the point restores bit-exact" cmp b.img b.out

# Many small files: a tree's files are grouped too.
mkdir -p tree
for d in $(seq 1 20); do mkdir -p tree/d$d; for f in $(seq 1 50); do echo "file $f of folder $d, seed $SEED" > tree/d$d/f$f; done; done
lb sync tree --store st --as m/tree >/dev/null
lb restore --store st m/tree tree.out >/dev/null
check "a tree of 1,000 small files restores bit-exact" diff -r tree tree.out
