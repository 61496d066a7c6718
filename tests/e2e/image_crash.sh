#!/usr/bin/env bash
# kill -9 in the middle of a sync leaves a store that verifies and a next
# sync that completes; two syncs at once do not corrupt the store.
. "$(dirname "$0")/lib.sh"

lb store init st >/dev/null
"$GEN" create big.img 320M "$SEED"
"$GEN" create base.img 32M $((SEED + 1))
lb sync base.img --store st --as m/base >/dev/null

for round in 1 2 3; do
	delay=$(( (RANDOM % 60) + 5 ))
	"$LB_BIN" sync big.img --store st --as m/big >/dev/null 2>&1 &
	pid=$!
	sleep "0.$(printf %02d $delay)"
	kill -9 $pid 2>/dev/null
	wait $pid 2>/dev/null
	echo "# round $round: killed after 0.$(printf %02d $delay)s"
	check "round $round: the store verifies after kill -9" lb verify --store st --full
done
check "the earlier point still restores" lb restore --store st m/base base.out
check "and is bit-exact" cmp base.img base.out
check "the next sync completes" lb sync big.img --store st --as m/big
lb restore --store st m/big big.out >/dev/null
check "its point is bit-exact" cmp big.img big.out
rm -f big.out

# Two syncs at once on one store: different datasets, and the same one.
"$GEN" create c.img 96M $((SEED + 2))
lb sync big.img --store st --as x/one >/dev/null 2>x1.err & p1=$!
lb sync c.img --store st --as x/two >/dev/null 2>x2.err & p2=$!
lb sync c.img --store st --as x/two >/dev/null 2>x3.err & p3=$!
wait $p1; r1=$?; wait $p2; r2=$?; wait $p3; r3=$?
check "three concurrent syncs all succeed" test "$r1$r2$r3" = 000
check "the store verifies after concurrent syncs" lb verify --store st --full
lb restore --store st x/one one.out >/dev/null && lb restore --store st x/two two.out >/dev/null
check "concurrent points restore bit-exact" sh -c 'cmp big.img one.out && cmp c.img two.out'
check "x/two has two points" test "$(lb points --store st x/two --json | grep -o '"id"' | wc -l)" = 2

# Ctrl-C: the sync stops, exits 130, and leaves no point and a sound store.
n_before=$(lb points --store st m/big --json | grep -o '"id"' | wc -l)
"$GEN" mutate big.img 5 $((SEED + 3)) >/dev/null
"$LB_BIN" sync big.img --store st --as m/big >/dev/null 2>int.err & pid=$!
sleep 0.2
kill -INT $pid
wait $pid; rc=$?
if [ $rc = 130 ]; then pass "an interrupted sync exits 130"
elif [ $rc = 0 ]; then pass "the sync finished before the interrupt (nothing to check)"
else fail "an interrupted sync exits 130" "exit $rc: $(cat int.err)"; fi
n_after=$(lb points --store st m/big --json | grep -o '"id"' | wc -l)
if [ $rc = 130 ]; then check "and adds no point" test "$n_before" = "$n_after"; fi
check "the store verifies after the interrupt" lb verify --store st
