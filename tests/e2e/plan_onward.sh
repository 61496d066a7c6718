#!/usr/bin/env bash
# commit --onward SITE: after a migration the machines are protected onward
# without the plan being edited: the site they run at becomes the primary,
# SITE the recovery site; replicate reads from there, the store fences
# the old primary, and a later failover brings them up at SITE.
. "$(dirname "$0")/lib.sh"

last_job() { "$LB_BIN" jobs | tail -1 | cut -d" " -f1; }
cat > plan.yaml <<'YAML'
lifeboat: 1
name: onward
store: replica
sites:
  primary: { provider: local, root: site-a }
  recovery: { provider: local, root: site-b }
  drill: { provider: local, root: site-d }
  cloud: { provider: local, root: site-c }
machines:
  db: { datasets: [ { name: data, kind: tree, path: data } ] }
groups:
  - name: g
    machines: [db]
YAML
mkdir -p site-a/db/data && echo "at a" > site-a/db/data/v
check "replicate" lb replicate plan.yaml
check "drill" lb drill plan.yaml
check "failover" lb failover plan.yaml
expect 2 "*--onward recovery: the machines run there now*" "onward to where the machines run" lb commit plan.yaml --onward recovery
expect 2 "*operation 'commit' needs a site named 'nowhere'*" "onward to a site the plan lacks" lb commit plan.yaml --onward nowhere
expect 2 "*--onward drill: that is the plan's drill site, which drills clean up*" "onward to the drill site" lb commit plan.yaml --onward drill
check "commit --onward cloud" lb commit plan.yaml --onward cloud
out=$(lb status plan.yaml)
[[ $out == *"active site recovery (protected), protected onward: primary recovery, recovery cloud"* ]] && [[ $out == *"last passing drill: none"* ]] \
	&& pass "status: protected again, recovery is the primary, cloud the recovery site; no drill of the new pair yet" || fail "status" "$out"
[ "$(lb points --store replica --json)" = "[]" ] && pass "the old replica data is gone" || fail "points left" "$(lb points --store replica)"

echo "at b" > site-b/db/data/v
check "replicate from the new primary" lb replicate plan.yaml
lb restore db/data@latest got --store replica >/dev/null 2>&1
[ "$(cat got/v 2>/dev/null)" = "at b" ] && pass "the new point holds what runs at the recovery site" || fail "new point" "$(cat got/v)"
out=$(lb sync site-a/db/data --as db/data --site primary --store replica 2>&1); rc=$?
[ $rc != 0 ] && [[ $out == *"only recovery may replicate it"* || $out == *"may replicate it"* ]] && pass "the old primary is fenced in the store" \
	|| fail "old primary fence" "exit $rc" "$out"
check "drill of the new pair" lb drill plan.yaml
check "failover to cloud" lb failover plan.yaml --planned --yes
[ "$(cat site-c/db/data/v 2>/dev/null)" = "at b" ] && pass "a failover now brings db up at cloud" || fail "failover to cloud" "$(ls -R site-c 2>&1)"
[[ $(lb status plan.yaml) == *"active site cloud (failed-over"* ]] && pass "status: db runs at cloud" || fail "status after" "$(lb status plan.yaml)"
