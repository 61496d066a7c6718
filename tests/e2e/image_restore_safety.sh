#!/usr/bin/env bash
# An image restore never replaces a destination someone else made while it
# ran, and --delta never writes through a symlink.
. "$(dirname "$0")/lib.sh"

lb store init st >/dev/null
"$GEN" create a.img 256M "$SEED"
lb sync a.img --store st --as m/d >/dev/null

# DEST appears while the restore runs: it is stopped once its temporary file
# exists, DEST is made, then it goes on.
"$LB_BIN" restore --store st m/d out.img --threads 1 >/dev/null 2>restore.err & pid=$!
for _ in $(seq 400); do compgen -G '.out.img.lifeboat-*' >/dev/null && break; sleep 0.01; done
kill -STOP $pid
echo mine > out.img
kill -CONT $pid
wait $pid; rc=$?
if [ $rc = 2 ] && grep -q 'out.img appeared while restoring and was not replaced' restore.err; then
	pass "a destination made during the restore is not replaced (exit 2)"
else
	fail "a destination made during the restore is not replaced (exit 2)" "exit $rc: $(cat restore.err)"
fi
check "it keeps its own content" test "$(cat out.img)" = mine
check "no temporary file is left" sh -c '! ls .out.img.lifeboat-* 2>/dev/null'
check "with --force it is replaced" lb restore --store st m/d out.img --force
check "bit-exact" cmp a.img out.img

# --delta never follows a symlink at DEST.
cp a.img target.img
printf 'old data' | dd of=target.img bs=1 seek=4096 conv=notrunc status=none
cp target.img target.before
ln -s target.img link.img
expect 2 "*link.img is a symlink*" "--delta refuses a symlink as DEST" lb restore --store st m/d link.img --delta
check "and the file it points to is untouched" cmp target.img target.before
check "--delta on the file itself works" lb restore --store st m/d target.img --delta
check "and makes it bit-exact" cmp a.img target.img
