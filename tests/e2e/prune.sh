#!/usr/bin/env bash
# prune keeps exactly what the policy says, every kept point restores, a
# dry run changes nothing, and kill -9 at any moment leaves a sound store.
. "$(dirname "$0")/lib.sh"

ids() { lb points --store "$1" ${2:-} --json | grep -o '"id":"[0-9a-f]*"' | cut -d'"' -f4; }
# the store each test below starts from, made once: 6 image points (2nd
# and 4th app-consistent) and 2 tree points
lb store init fresh >/dev/null
"$GEN" create a.img 24M "$SEED"
mkdir -p tree; echo one > tree/f
for i in 1 2 3 4 5 6; do
	"$GEN" mutate a.img 15 $((SEED + i)) >/dev/null
	cp a.img "v$i.img"
	c=crash; [ $i = 2 ] || [ $i = 4 ] && c=app
	lb sync a.img --store fresh --as vm/disk --consistency $c >/dev/null
done
lb sync tree --store fresh --as vm/etc >/dev/null; echo two >> tree/f
lb sync tree --store fresh --as vm/etc >/dev/null
fresh_store() { rm -rf "$1"; cp -a fresh "$1"; } # NAME

fresh_store st
all=($(ids st vm/disk))
before=$(tree_digest st)
out=$(lb prune --store st vm/disk --keep-last 2 --dry-run)
check "dry run changes nothing" test "$before" = "$(tree_digest st)"
case $out in *"would forget 3 points"*) pass "dry run says what it would forget" ;; *) fail "dry run says what it would forget" "$out" ;; esac
check "prune --keep-last 2" lb prune --store st vm/disk --keep-last 2
kept=($(ids st vm/disk))
# newest two (5, 6) and the newest app-consistent one (4)
check "keeps the newest 2 and the newest app-consistent point" test "${kept[*]}" = "${all[3]} ${all[4]} ${all[5]}"
check "the other dataset is untouched" test "$(ids st vm/etc | wc -l)" = 2
ok=1
for k in 4 5 6; do
	lb restore --store st "vm/disk@${all[$((k - 1))]}" "r$k.img" >/dev/null && cmp -s "v$k.img" "r$k.img" || ok=0
done
check "every kept point restores bit-exact" test $ok = 1
check "verify --full passes after prune" lb verify --store st --full
size_before=$(du -sb st | cut -f1)
lb prune --store st --keep-last 1 >/dev/null
check "pruning more frees space" test "$(du -sb st | cut -f1)" -lt "$size_before"
kept=($(ids st vm/disk))
check "keep-last 1 still keeps the newest app-consistent point" test "${kept[*]}" = "${all[3]} ${all[5]}"
lb restore --store st vm/etc etc.out >/dev/null
check "the tree point restores after prune" diff -r tree etc.out

fresh_store st2
check "--keep-app 2 --keep-last 1" lb prune --store st2 vm/disk --keep-app 2 --keep-last 1
kept=($(ids st2 vm/disk))
all=($(lb points --store st2 vm/disk --json | grep -o '"id":"[0-9a-f]*"' | cut -d'"' -f4))
check "keeps the two app-consistent points and the newest" test "${#kept[@]}" = 3

expect 2 "*give a policy*" "prune without a policy is refused" lb prune --store st2
expect 2 "*--keep-within 'soon'*" "a bad duration is refused" lb prune --store st2 --keep-within soon
expect 2 "*--keep-last 'x'*" "a bad count is refused" lb prune --store st2 --keep-last x
check "--keep-within 1h keeps every recent point" sh -c "'$LB_BIN' prune --store st2 --keep-within 1h | grep -q 'forgot 0 points'"

# A prune while a sync or restore holds the store (its shared lock, held
# here by flock(1) the way they hold it) fails cleanly and changes nothing.
"$GEN" create big.img 128M $((SEED + 9))
before=$(tree_digest st2)
flock -s st2/locks/store.lock sleep 3 & lpid=$!
sleep 0.2
expect 1 "*in use*needs it alone*" "prune while the store is in use fails cleanly" lb prune --store st2 --keep-last 1
check "and changes nothing" test "$before" = "$(tree_digest st2)"
kill $lpid; wait $lpid 2>/dev/null

# kill -9 during prune, at random moments within the few tenths of a
# second it takes
for round in 1 2 3; do
	fresh_store st3
	lb sync big.img --store st3 --as vm/big >/dev/null
	"$GEN" mutate big.img 60 $((SEED + 20 + round)) >/dev/null
	lb sync big.img --store st3 --as vm/big >/dev/null
	delay=$(( RANDOM % 19 + 2 ))
	"$LB_BIN" prune --store st3 --keep-last 1 >/dev/null 2>&1 & pid=$!
	sleep "0.$(printf %02d $delay)"; kill -9 $pid 2>/dev/null; wait $pid 2>/dev/null
	[ $? = 137 ] && how=killed || how="done before the kill"
	echo "# round $round: prune $how after 0.$(printf %02d $delay)s"
	check "round $round: the store verifies after a killed prune" lb verify --store st3 --full
	ok=1
	for id in $(ids st3 vm/disk); do lb restore --store st3 "vm/disk@$id" x.img >/dev/null || ok=0; rm -f x.img; done
	lb restore --store st3 vm/big x.img >/dev/null && cmp -s big.img x.img || ok=0; rm -f x.img
	check "round $round: every remaining point restores" test $ok = 1
	check "round $round: a second prune completes" lb prune --store st3 --keep-last 1
	check "round $round: and the store verifies" lb verify --store st3 --full
done

# Prunes that change nothing write an index identical to the one they
# replace (index files are named by their content): the store must stay
# whole, however often it happens and whichever machine is in scope.
lb store init st4 >/dev/null
mkdir -p ta tb
head -c 2000000 /dev/urandom > ta/f; head -c 2000000 /dev/urandom > tb/f
for i in 1 2; do
	echo "$i" >> ta/g; echo "$i" >> tb/g
	lb sync ta --store st4 --as ma/d >/dev/null; lb sync tb --store st4 --as mb/d >/dev/null
done
for m in ma mb ma mb; do lb prune --store st4 "$m" --keep-within 24h >/dev/null; done
check "prunes that forget nothing, one after another, leave the store sound" lb verify --store st4 --full
check "and every point restores" bash -c "$LB_BIN restore --store st4 mb/d rb >/dev/null && cmp tb/f rb/f && $LB_BIN restore --store st4 ma/d ra >/dev/null && cmp ta/f ra/f"
