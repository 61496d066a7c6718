#!/usr/bin/env bash
# Changed-block tracking in the engine: sync --changed FILE --since POINT
# reads only the listed byte ranges and takes every other block from the
# point given, and the result restores bit-exact. What the list cannot be
# trusted with is refused before anything is written: a --since that is
# not the newest point, a resized image, a tree, a malformed or
# out-of-range line.
. "$(dirname "$0")/lib.sh"

check "store init" lb store init st
head -c $((48 << 20)) /dev/urandom > d.img
truncate -s 64M d.img # a hole at the end
P1=$(lb sync d.img --store st --as vm/disk)
: > ranges
for i in 1 2 3 4 5 6; do # scattered writes, some across block edges, one into the hole
	off=$(( (RANDOM * 32768 + RANDOM) % (60 << 20) )); len=$(( RANDOM % 100000 + 1 ))
	head -c $len /dev/urandom | dd of=d.img bs=1 seek=$off conv=notrunc status=none
	echo "$off $len" >> ranges
done
dd if=/dev/zero of=d.img bs=4096 seek=100 count=8 conv=notrunc status=none # zeros written over data
echo "$((100 * 4096)) $((8 * 4096))" >> ranges
out=$(lb sync d.img --store st --as vm/disk --changed ranges --since "$P1" --json)
read_bytes=$(printf '%s' "$out" | sed 's/.*"bytes_read":\([0-9]*\).*/\1/')
if [ "$read_bytes" -gt 0 ] && [ "$read_bytes" -lt $((4 << 20)) ]; then pass "only the changed ranges are read ($read_bytes bytes of 64 MiB)"
else fail "only the changed ranges are read" "$out"; fi
check "the point restores bit-exact (changes, zeros over data, the hole)" \
	sh -c "'$LB_BIN' restore --store st vm/disk@latest r.img >/dev/null 2>&1 && cmp d.img r.img"
full=$(lb sync d.img --store st --as vm/disk --json)
if [[ $full == *'"bytes_added":0,'* ]] || [[ $full == *'"bytes_added":0}'* ]]; then pass "a full comparison afterwards finds nothing new"
else fail "a full comparison afterwards finds nothing new" "$full"; fi
P3=$(printf '%s' "$full" | sed 's/.*"point":"\([0-9a-f]*\)".*/\1/')

before=$(tree_digest st)
expect 2 "*relative to point $P1, but the newest point of vm/disk is $P3*" "a --since that is not the newest point is refused" \
	"$LB_BIN" sync d.img --store st --as vm/disk --changed ranges --since "$P1"
printf '1 2 3\n' > bad1
expect 2 "*bad1:1: not a line OFFSET LENGTH*" "a malformed line is named by file and line" \
	"$LB_BIN" sync d.img --store st --as vm/disk --changed bad1 --since "$P3"
printf '0 4096\n%d 4096\n' $((64 << 20)) > bad2
expect 2 "*bad2:2: the range 67108864+4096 is not inside the image's 67108864 bytes*" "a range past the end is refused" \
	"$LB_BIN" sync d.img --store st --as vm/disk --changed bad2 --since "$P3"
expect 2 "*--changed and --since go together*" "--changed without --since is a usage error" \
	"$LB_BIN" sync d.img --store st --as vm/disk --changed ranges
expect 2 "*cannot read the changed ranges*" "a missing ranges file is named" \
	"$LB_BIN" sync d.img --store st --as vm/disk --changed nonexistent --since "$P3"
after=$(tree_digest st)
truncate -s 80M d.img
expect 2 "*needs a parent point of the same size*" "a resized image cannot use the list" \
	"$LB_BIN" sync d.img --store st --as vm/disk --changed ranges --since "$P3"
mkdir tree && echo x > tree/f
T=$(lb sync tree --store st --as vm/tree)
expect 2 "*ranges: the last folder is not ended by a NUL byte*" "a tree refuses a changed-block list (not a list of folders)" \
	"$LB_BIN" sync tree --store st --as vm/tree --changed ranges --since "$T"
rm -rf tree
if [ "$before" = "$after" ] && [ "$(lb points --store st vm/disk | wc -l)" = 4 ]; then
	pass "the refused syncs changed nothing in the store"
else fail "the refused syncs changed nothing in the store" "$(lb points --store st vm/disk)"; fi
