#!/usr/bin/env bash
# sync -> restore is bit-exact for sparse, random and mutated images, and
# older points stay restorable as new ones arrive.
. "$(dirname "$0")/lib.sh"

check "store init" lb store init st
"$GEN" create sparse.img 96M "$SEED"
check "sync a sparse image" lb sync sparse.img --store st --as vm1/disk0
check "restore it" lb restore --store st vm1/disk0 r1.img
check "restored sparse image is bit-exact" cmp sparse.img r1.img
check "restored image keeps its holes" is_sparse r1.img

head -c 40000000 /dev/urandom > random.img
P=$(lb sync random.img --store st --as vm1/random --block-size 64KiB)
check "restore a random image by id" lb restore --store st "vm1/random@$P" r2.img
check "random image is bit-exact" cmp random.img r2.img

cp sparse.img v1.img
P1=$(lb sync v1.img --store st --as vm2/disk0)
"$GEN" mutate v1.img 1 $((SEED + 1)) >/dev/null
cp v1.img v2.img
P2=$(lb sync v1.img --store st --as vm2/disk0 --json | sed 's/.*"point":"\([0-9a-f]*\)".*/\1/')
"$GEN" mutate v1.img 2 $((SEED + 2)) >/dev/null
P3=$(lb sync v1.img --store st --as vm2/disk0)
check "three distinct points" test -n "$P1" -a -n "$P2" -a -n "$P3" -a "$P1" != "$P2" -a "$P2" != "$P3"
lb restore --store st "vm2/disk0@$P1" p1.img && lb restore --store st "vm2/disk0@$P2" p2.img &&
	lb restore --store st vm2/disk0@latest p3.img
check "first point restores after the third sync" cmp sparse.img p1.img
check "second point restores (the mutation)" cmp v2.img p2.img
check "latest is the third point" cmp v1.img p3.img

added=$(lb points --store st vm2/disk0 --json | tr '{' '\n' | grep "\"id\":\"$P2\"" | sed 's/.*"added_bytes":\([0-9]*\).*/\1/')
check "a 1% mutation adds less than 10% of the image" test "$added" -lt $((96 * 1024 * 1024 / 10))

printf 'abc' > tiny.img
: > empty.img
lb sync tiny.img --store st --as vm3/tiny >/dev/null && lb restore --store st vm3/tiny tiny.out
check "an image smaller than a block round-trips" cmp tiny.img tiny.out
lb sync empty.img --store st --as vm3/empty >/dev/null && lb restore --store st vm3/empty empty.out
check "an empty image round-trips" cmp empty.img empty.out

json=$(lb points --store st --json)
for f in '"id":"' '"machine":"vm2"' '"dataset":"disk0"' '"time":"20' '"consistency":"crash"' '"size":' '"added_bytes":'; do
	case $json in *"$f"*) pass "points --json has $f" ;; *) fail "points --json has $f" "$json" ;; esac
done
lb sync v1.img --store st --as vm2/disk0 --consistency app >/dev/null
check "points lists an app-consistent point" sh -c "'$LB_BIN' points --store st vm2/disk0 | grep -q ' app '"
r=$(lb restore --store st vm2/disk0 p4.img --json)
case $r in *'"bytes_written":'*'"seconds":'*) pass "restore --json reports bytes written and seconds" ;; *) fail "restore --json" "$r" ;; esac
check "verify passes" lb verify --store st
check "verify --full passes" lb verify --store st --full
