#!/usr/bin/env bash
# lifeboat store copy: points and their chunks from one store to another,
# incrementally, re-encrypting when the keys differ; a folder store copied
# to S3 (s3rver) and back; a copy killed with -9 resumes.
source "$(dirname "$0")/lib.sh"
source "$E2E_DIR/lib_stores.sh"
TREEGEN=${GEN%/*}/gentree
$GEN create img 24M "$RANDOM" >/dev/null 2>&1
$TREEGEN create tree 300 "$RANDOM" >/dev/null 2>&1
lb store init plain >/dev/null
lb sync img --store plain --as vm/disk >/dev/null 2>&1
lb sync tree --store plain --as vm/www >/dev/null 2>&1
$GEN mutate img 3 >/dev/null 2>&1
lb sync img --store plain --as vm/disk >/dev/null 2>&1

restores_from() { # STORE SUFFIX: the newest image and tree come back exact
	rm -rf "r$2.img" "r$2.tree"
	lb restore --store "$1" vm/disk "r$2.img" >/dev/null 2>&1 && cmp -s img "r$2.img" &&
		lb restore --store "$1" vm/www "r$2.tree" >/dev/null 2>&1 && diff -rq tree "r$2.tree" >/dev/null
}

lb store init copy1 >/dev/null
out=$(lb store copy plain copy1 --json 2>&1)
[[ $out == *'"points_copied":3'*'"reencrypted":false'* ]] && pass "plain to plain: 3 points, same ids" || fail "plain to plain" "$out"
check "the copy verifies" lb verify --store copy1 --full
restores_from copy1 a && pass "the copy restores bit-exact" || fail "the copy restores bit-exact"
out=$(lb store copy plain copy1 --json 2>&1)
[[ $out == *'"points_copied":0,"points_present":3'*'"bytes_added":0'* ]] && pass "a second copy sends nothing" ||
	fail "a second copy sends nothing" "$out"

export LIFEBOAT_TO_PASSPHRASE="second region"
LIFEBOAT_PASSPHRASE=$LIFEBOAT_TO_PASSPHRASE lb store init enc --encrypt >/dev/null
out=$(lb store copy plain enc --json 2>&1)
[[ $out == *'"points_copied":3'*'"reencrypted":true'* ]] && pass "plain to encrypted: re-encrypted" || fail "plain to encrypted" "$out"
export LIFEBOAT_PASSPHRASE=$LIFEBOAT_TO_PASSPHRASE
check "the encrypted copy verifies" lb verify --store enc --full
restores_from enc b && pass "the encrypted copy restores bit-exact" || fail "the encrypted copy restores bit-exact"

# a new point at the source, then an incremental copy that sends only it
$GEN mutate img 2 >/dev/null 2>&1
env -u LIFEBOAT_PASSPHRASE "$LB_BIN" sync img --store plain --as vm/disk >/dev/null 2>&1
out=$(env -u LIFEBOAT_PASSPHRASE "$LB_BIN" store copy plain enc vm/disk --json 2>&1)
[[ $out == *'"points_copied":1,"points_present":2'* ]] && pass "an incremental copy sends the new point only" ||
	fail "an incremental copy sends the new point only" "$out"
restores_from enc c && pass "the newest point restores from the copy" || fail "the newest point restores from the copy"

# an encrypted store to another with a different key, on S3, killed half way once
start_s3rver || { fail "s3rver starts"; exit 1; }
export LIFEBOAT_TO_PASSPHRASE="third key"
LIFEBOAT_PASSPHRASE=$LIFEBOAT_TO_PASSPHRASE lb store init "$S3_URL" --encrypt >/dev/null
"$LB_BIN" store copy enc "$S3_URL" >/dev/null 2>&1 &
pid=$!
sleep 0.$((RANDOM % 3 + 1))
kill -9 $pid 2>/dev/null; wait $pid 2>/dev/null
out=$(lb store copy enc "$S3_URL" --json 2>&1)
[[ $out == *'"points_copied":'*'"reencrypted":true'* ]] && pass "a copy killed with -9 resumes ($out)" || fail "a copy killed with -9 resumes" "$out"
export LIFEBOAT_PASSPHRASE=$LIFEBOAT_TO_PASSPHRASE
check "the S3 copy verifies" lb verify --store "$S3_URL" --full
restores_from "$S3_URL" d && pass "the S3 copy restores bit-exact" || fail "the S3 copy restores bit-exact"
[ "$(lb points --store "$S3_URL" --json | $PYTHON -c 'import json,sys; print(len(json.load(sys.stdin)))')" = 4 ] &&
	pass "the S3 copy has the 4 points" || fail "the S3 copy has the 4 points"

# bad input
expect 2 "*same store*" "SRC and DST the same" lb store copy enc enc
expect 2 "*not a store*" "a DST that is no store" env -u LIFEBOAT_PASSPHRASE "$LB_BIN" store copy plain nowhere
expect 2 "*wrong key*" "a wrong key for DST" env LIFEBOAT_TO_PASSPHRASE=wrong "$LB_BIN" store copy "$S3_URL" enc
expect 2 "*give SRC, DST*" "one store only" lb store copy enc
