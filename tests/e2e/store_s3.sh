#!/usr/bin/env bash
# A replica store in S3 (s3rver on 127.0.0.1): every command, bad
# credentials and URLs, locks. The signature itself is checked against
# botocore by tests/unit/test_s3sign.c (s3rver does not check it).
source "$(dirname "$0")/lib.sh"
source "$E2E_DIR/lib_stores.sh"
start_s3rver || { fail "s3rver starts"; exit 1; }
remote_suite "$S3_URL" "$AWS_SECRET_ACCESS_KEY"

# repair on S3: an index object lost, rebuilt from the packs' headers
export LIFEBOAT_PASSPHRASE="correct horse battery staple"
idx=$(find "$WORK/s3rver/lifeboat-test/replica/index" -name '*._S3rver_object' | head -1)
rm -f "${idx%._S3rver_object}"._S3rver_*
expect 1 "*repair*" "verify finds the lost index and suggests repair" lb verify --store "$S3_URL"
check "repair rebuilds the index on S3" lb repair --store "$S3_URL"
check "and the store verifies" lb verify --store "$S3_URL" --full
unset LIFEBOAT_PASSPHRASE

expect 2 "*no credentials*AWS_ACCESS_KEY_ID*" "missing credentials: one clear line" \
	env -u AWS_ACCESS_KEY_ID "$LB_BIN" points --store "$S3_URL"
expect 2 "*access denied*" "an unknown access key: access denied" \
	env AWS_ACCESS_KEY_ID=NOSUCHKEY "$LB_BIN" points --store "$S3_URL"
expect 2 "*no such bucket*" "a bucket that does not exist" lb points --store s3://no-such-bucket/x
expect 2 "*bucket name*" "a bucket name S3 does not allow" lb points --store s3://Bad_Bucket/x
expect 2 "*unknown kind of store*" "a typo in the scheme" lb points --store s4://lifeboat-test/replica
expect 2 "*not an http*" "a bad endpoint" env AWS_ENDPOINT_URL=127.0.0.1:9 "$LB_BIN" points --store "$S3_URL"

# over https, with a private CA named by AWS_CA_BUNDLE (as the AWS CLI reads it)
stop_servers
start_s3rver "" tls || { fail "s3rver starts with TLS"; exit 1; }
TLS_URL=s3://lifeboat-tls/replica
expect 2 "*certificate*" "a server certificate no CA vouches for is refused" lb store init "$TLS_URL"
check "AWS_CA_BUNDLE makes it trusted" env AWS_CA_BUNDLE="$S3_CA" "$LB_BIN" store init "$TLS_URL"
check "and the store works over https" env AWS_CA_BUNDLE="$S3_CA" "$LB_BIN" sync img --store "$TLS_URL" --as vm/disk

# packs over 64 MiB go up as multipart uploads
MP_URL=s3://lifeboat-multipart/replica
$GEN create big.img 200M "$RANDOM" >/dev/null 2>&1
head -c 100000000 /dev/urandom >>big.img   # incompressible: the pack really grows past 64 MiB
check "a store with 96 MiB packs" env AWS_CA_BUNDLE="$S3_CA" "$LB_BIN" store init "$MP_URL" --pack-size 96MiB
check "a sync whose packs are multipart uploads" env AWS_CA_BUNDLE="$S3_CA" "$LB_BIN" sync big.img --store "$MP_URL" --as vm/big
rm -f big.out
check "restores bit-exact" env AWS_CA_BUNDLE="$S3_CA" "$LB_BIN" restore --store "$MP_URL" vm/big big.out
check "the same" cmp big.img big.out
check "and verifies" env AWS_CA_BUNDLE="$S3_CA" "$LB_BIN" verify --store "$MP_URL" --full
expect 2 "*--pack-size*1MiB to 1GiB*" "a pack size out of range is refused" lb store init s3://lifeboat-x/y --pack-size 10KiB
