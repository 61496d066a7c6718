#!/usr/bin/env bash
# restore --delta: bring an existing image or tree to a point's state,
# writing only what differs.
. "$(dirname "$0")/lib.sh"
jnum() { echo "$1" | sed "s/.*\"$2\":\([0-9]*\).*/\1/"; }

lb store init st >/dev/null
"$GEN" create a.img 64M "$SEED"
lb sync a.img --store st --as vm/disk >/dev/null
cp --sparse=always a.img b.img
# 40 blocks of 16 KiB rewritten: 1% of the image's blocks
for i in $(seq 40); do dd if=/dev/urandom of=b.img bs=16K count=1 seek=$(( (RANDOM * 7 + i) % 4096 )) conv=notrunc status=none; done
out=$(lb restore --store st vm/disk b.img --delta --json)
echo "# $out"
check "delta restore makes the image bit-exact" cmp a.img b.img
w=$(jnum "$out" bytes_written); r=$(jnum "$out" bytes_read)
check "it writes about the blocks that differ (<= 41 blocks)" test "$w" -le $((41 * 16384)) -a "$w" -gt 0
check "and reports the bytes it read" test "$r" -gt 0
out=$(lb restore --store st vm/disk b.img --delta --json)
check "a second delta restore writes nothing" test "$(jnum "$out" bytes_written)" = 0
truncate -s 80M b.img
lb restore --store st vm/disk b.img --delta >/dev/null
check "a longer destination is cut to the point's size" cmp a.img b.img
expect 2 "*--delta updates an existing image*" "--delta needs an existing destination" lb restore --store st vm/disk nope.img --delta

mkdir -p t/etc t/www/static t/data
echo "db=primary" > t/etc/app.ini; head -c 3000000 /dev/urandom > t/data/blob; echo hi > t/www/static/index.html
ln -s ../etc/app.ini t/www/config; touch -d '2003-01-01' t/etc/app.ini
lb sync t --store st --as web/tree >/dev/null
lb restore --store st web/tree u >/dev/null
echo "db=recovery" > u/etc/app.ini
printf 'Q' | dd of=u/data/blob bs=1 seek=1500000 conv=notrunc status=none
rm -r u/www/static; echo stray > u/stray.txt; mkdir -p u/newdir/x
rm u/www/config; ln -s /elsewhere u/www/config; chmod 0700 u/etc
out=$(lb restore --store st web/tree u --delta --json)
echo "# $out"
check "delta restore of a tree makes it identical" diff -r --no-dereference t u
check "entries the point lacks are removed" test ! -e u/stray.txt -a ! -e u/newdir
check "modes and times are restored" test "$(stat -c '%a %Y' t/etc t/etc/app.ini)" = "$(stat -c '%a %Y' u/etc u/etc/app.ini)"
w=$(jnum "$out" bytes_written)
check "a one-byte edit in a 3 MB file rewrites one chunk, not the file" test "$w" -lt 400000
