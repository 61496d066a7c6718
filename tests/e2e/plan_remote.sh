#!/usr/bin/env bash
# A recovery plan whose replica store is off the host: S3 (s3rver on
# 127.0.0.1), encrypted with a passphrase. Replicate, drill and an
# unplanned failover through the remote store; then a second host (its
# own state folder, which never saw the failover) that tries to replicate
# is refused, both by the plan commands (the store's record of the plan's
# state wins) and by sync itself. Credentials never reach journals,
# reports or outputs.
source "$(dirname "$0")/lib.sh"
source "$E2E_DIR/lib_stores.sh"
start_s3rver || { fail "s3rver starts"; exit 1; }
export LIFEBOAT_PASSPHRASE="plan remote passphrase"
URL=s3://lifeboat-plans/smallshop

cat > plan.yaml <<YAML
lifeboat: 1
name: smallshop
store: $URL
sites:
  primary: { provider: local, root: site-a }
  recovery: { provider: local, root: site-b }
  drill: { provider: local, root: site-drill }
machines:
  app:
    datasets:
      - { name: data, kind: tree, path: data }
      - { name: disk, kind: image, path: disk.img }
    start: sleep 300
groups:
  - name: g
    machines: [app]
YAML
mkdir -p site-a/app/data && echo "order 1" > site-a/app/data/orders && head -c 300000 /dev/urandom > site-a/app/disk.img

check "store init (encrypted) on S3" lb store init "$URL" --encrypt
out=$(LIFEBOAT_STATE=$PWD/host-a lb replicate plan.yaml 2>&1) && pass "host A: replicate" || fail "host A: replicate" "$out"
[ "$(lb points --store "$URL" --json | $PYTHON -c 'import json,sys; print(len(json.load(sys.stdin)))')" = 2 ] &&
	pass "the points are in the bucket" || fail "the points are in the bucket"
rec=$(lb store state smallshop --store "$URL" --json)
[[ $rec == *'"phase":"protected"'*'"source":"primary"'*'"machines":["app"]'* ]] && pass "the store records the plan: protected, replicated from primary" ||
	fail "the store records the plan" "$rec"
out=$(LIFEBOAT_STATE=$PWD/host-a lb drill plan.yaml 2>&1) && pass "host A: drill restores from S3" || fail "host A: drill" "$out"
out=$(LIFEBOAT_STATE=$PWD/host-a lb failover plan.yaml --yes 2>&1) && pass "host A: unplanned failover from S3" || fail "host A: failover" "$out"
diff -r site-a/app/data site-b/app/data >/dev/null && cmp -s site-a/app/disk.img site-b/app/disk.img &&
	pass "the recovery site has the data" || fail "the recovery site has the data"
rec=$(lb store state smallshop --store "$URL" --json)
[[ $rec == *'"active":"recovery"'*'"phase":"failed-over"'*'"source":null'* ]] && pass "the store fences the plan: no site may replicate" ||
	fail "the store fences the plan" "$rec"
LIFEBOAT_STATE=$PWD/host-a lb cleanup plan.yaml >/dev/null 2>&1

# host B: the old primary's runner, with its own state folder
echo "order 2 (split brain)" >> site-a/app/data/orders
expect 2 "*failed over*recorded in the store*" "host B: replicate is refused (the store's state wins)" \
	env LIFEBOAT_STATE="$PWD/host-b" "$LB_BIN" replicate plan.yaml
expect 2 "*belongs to plan smallshop*no site may replicate*" "host B: a sync from the old primary is refused by sync itself" \
	lb sync site-a/app/data --store "$URL" --as app/data --site primary
[ "$(lb points --store "$URL" --json | $PYTHON -c 'import json,sys; print(len(json.load(sys.stdin)))')" = 2 ] &&
	pass "no point was added" || fail "no point was added"

# reprotect from the recovery site: it may replicate, the primary still may not
out=$(LIFEBOAT_STATE=$PWD/host-a lb reprotect plan.yaml 2>&1) && pass "host A: reprotect replicates the recovery site" ||
	fail "host A: reprotect" "$out"
expect 2 "*fenced at site primary*only site recovery*" "after reprotect, the primary is still fenced" \
	lb sync site-a/app/data --store "$URL" --as app/data --site primary
expect 2 "*belongs to plan smallshop*--site*" "a sync that names no site is refused" \
	lb sync site-a/app/data --store "$URL" --as app/data

# no credential anywhere lifeboat writes
if grep -rqF -e "$AWS_SECRET_ACCESS_KEY" -e "$LIFEBOAT_PASSPHRASE" host-a host-b 2>/dev/null; then
	fail "no credential in journals, logs or reports"
else
	pass "no credential in journals, logs or reports"
fi
