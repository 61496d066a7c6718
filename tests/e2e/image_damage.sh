#!/usr/bin/env bash
# A flipped byte anywhere is an error naming the object, never silent garbage.
. "$(dirname "$0")/lib.sh"

lb store init st >/dev/null
"$GEN" create a.img 40M "$SEED"
lb sync a.img --store st --as m/d >/dev/null
pack=$(find st/packs -type f | sort | head -1)
rel=${pack#st/}
size=$(stat -c %s "$pack")
off=$(( (RANDOM * 32768 + RANDOM) % (size - 200) + 8 ))
printf "# flipping byte %d of %s\n" "$off" "$rel"
b=$(od -An -tu1 -j "$off" -N1 "$pack" | tr -d ' ')
printf "$(printf '\\%03o' $(( b ^ 0x40 )))" | dd of="$pack" bs=1 seek="$off" conv=notrunc status=none
check "structural verify still passes (no chunk read)" lb verify --store st
expect 1 "*$rel*" "verify --full fails naming the damaged pack" lb verify --store st --full
expect 1 "*$rel*" "restore fails naming the damaged pack" lb restore --store st m/d out.img
check "the failed restore left no file at DEST" test ! -e out.img
check "nor a temporary file beside it" sh -c '! ls -A | grep -q lifeboat'

lb store init st2 >/dev/null
lb sync a.img --store st2 --as m/d >/dev/null
idx=$(find st2/index -type f | head -1)
printf 'X' | dd of="$idx" bs=1 seek=60 conv=notrunc status=none
expect 1 "*${idx#st2/}*" "a damaged index file is named" lb restore --store st2 m/d o2.img
pt=$(find st2/points -type f | head -1)
printf 'X' | dd of="$pt" bs=1 seek=50 conv=notrunc status=none
expect 1 "*${pt#st2/}*" "a damaged point is named" lb points --store st2
lb store init st3 >/dev/null
lb sync a.img --store st3 --as m/d >/dev/null
rm -f "$(find st3/packs -type f | head -1)"
expect 1 "*is missing*" "a missing pack is found by verify" lb verify --store st3
expect 1 "*is missing from store st3*" "restore names the missing pack" lb restore --store st3 m/d o3.img
