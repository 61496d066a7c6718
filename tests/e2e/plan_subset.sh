#!/usr/bin/env bash
# A subset of a plan (--machines, --group) with the local provider: a drill
# and a failover of some machines, depends_on kept unless asked; after a
# failover of a subset the others go on replicating and what follows runs
# on the subset. --point per machine, and consistency groups whose
# machines restore points of one replicate run (latest-consistent).
. "$(dirname "$0")/lib.sh"

last_job() { "$LB_BIN" jobs | tail -1 | cut -d" " -f1; }
restored() { cat "site-$1/$2/data/v" 2>/dev/null || echo none; }

cat > plan.yaml <<'YAML'
lifeboat: 1
name: sub
store: replica
sites:
  primary: { provider: local, root: site-a }
  recovery: { provider: local, root: site-b }
  drill: { provider: local, root: site-d }
consistency_groups:
  erp: [db, app]
machines:
  db: { datasets: [ { name: data, kind: tree, path: data } ] }
  app:
    depends_on: [db]
    datasets: [ { name: data, kind: tree, path: data } ]
  web: { datasets: [ { name: data, kind: tree, path: data } ] }
groups:
  - name: back
    machines: [db]
    after:
      - { name: toward recovery, exec: "true", only: [replicate, to-recovery] }
      - { name: back to primary, exec: "true", only: [replicate, to-primary] }
  - name: mid
    machines: [app]
  - name: front
    machines: [web]
    after:
      - exec: "echo front-after >> ../events"
YAML
for m in db app web; do mkdir -p site-a/$m/data; echo "$m v1" > site-a/$m/data/v; done
check "replicate (run 1)" lb replicate plan.yaml
R1=$(last_job)
for m in db app web; do echo "$m v2" > site-a/$m/data/v; done
check "replicate (run 2)" lb replicate plan.yaml
# run 3 syncs only db: the newest points of db and app are from different runs
echo "db v3" > site-a/db/data/v
check "replicate --machines db (run 3)" lb replicate plan.yaml --machines db
[ "$(lb points --store replica db/data --json | "$PYTHON" -c 'import json,sys; print(len({p["run"] for p in json.load(sys.stdin)}))')" = 3 ] && pass "each point records its replicate run" \
	|| fail "run in points" "$(lb points --store replica db/data --json)"

# subsets refused: a missing dependency, unknown names, the wrong operation
expect 2 "*app depends on db, which is not among the machines: add it, or --ignore-depends-on*" "a subset that breaks depends_on is refused" \
	lb drill plan.yaml --machines app
out=$(lb show plan.yaml --op drill --machines web,db,app)
[[ $out == *"back/db/restore"* ]] && [[ $out == *"front/web/restore"* ]] && pass "--machines naming every machine is the whole plan" || fail "all machines" "$out"
expect 2 "*the plan has no machine 'webb', did you mean 'web'?" "an unknown machine" lb drill plan.yaml --machines webb
expect 2 "*the plan has no group 'nope' (groups: back, mid, front)" "an unknown group" lb drill plan.yaml --group nope
expect 2 "*--machines is for replicate, drill and failover" "--machines on commit" lb commit plan.yaml --machines web
expect 2 "*--point: the plan has no machine 'dbx'*" "--point for an unknown machine" lb drill plan.yaml --point dbx=latest
expect 2 "*--point: 'db' is given twice*" "--point naming a machine twice" lb drill plan.yaml --point db=latest,db=latest-app

# a drill of one group: its machines and its actions only
out=$(lb show plan.yaml --op drill --group front)
[[ $out == *"front/web/restore"* ]] && [[ $out == *"front/after/1"* ]] && [[ $out != *"db/"* ]] && [[ $out != *"app/"* ]] \
	&& pass "show --group front: that group's machine and actions only" || fail "show --group" "$out"
check "drill --machines app --ignore-depends-on" lb drill plan.yaml --machines app --ignore-depends-on --keep
[ "$(restored d app)" = "app v2" ] && [ ! -e site-d/db ] && pass "only app came up at the drill site" || fail "subset drill" "$(ls site-d)"
check "cleanup" lb cleanup plan.yaml

# --point per machine, and latest-consistent
check "drill db=run 1, the rest latest" lb drill plan.yaml --point "db=$(lb points --store replica db/data --json | "$PYTHON" -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])'),latest" --keep
[ "$(restored d db)" = "db v1" ] && [ "$(restored d app)" = "app v2" ] && [ "$(restored d web)" = "web v2" ] \
	&& pass "--point db=ID,latest: db from its first point, the others their newest" || fail "per-machine point" "$(restored d db) $(restored d app)"
check "cleanup" lb cleanup plan.yaml
check "drill --point latest-consistent" lb drill plan.yaml --point latest-consistent --keep
[ "$(restored d db)" = "db v2" ] && [ "$(restored d app)" = "app v2" ] && [ "$(restored d web)" = "web v2" ] \
	&& pass "latest-consistent: db and app (one consistency group) from run 2, not db's newer run 3" \
	|| fail "latest-consistent" "db $(restored d db) app $(restored d app) web $(restored d web)"
J=$(last_job)
grep -q '"point"' ".lifeboat/jobs/$J/report.json" && pass "the report names the points used" || fail "report points"
check "cleanup" lb cleanup plan.yaml

# a failover of a subset: web only; the others go on replicating
check "failover --machines web" lb failover plan.yaml --machines web --yes
[ "$(restored b web)" = "web v2" ] && [ ! -e site-b/db ] && pass "web runs at the recovery site, db and app do not" || fail "subset failover" "$(ls site-b)"
echo "db v4" > site-a/db/data/v
echo "web at a v3" > site-a/web/data/v
check "replicate after a subset failover" lb replicate plan.yaml
J=$(last_job)
steps=$(lb job "$J" --json | "$PYTHON" -c 'import json,sys; print(" ".join(s["id"] for s in json.load(sys.stdin)["steps"]))')
[[ $steps == *"sync/db/sync"* ]] && [[ $steps == *"sync/app/sync"* ]] && [[ $steps != *"web"* ]] \
	&& pass "replicate runs on db and app, not on the failed-over web" || fail "replicate after subset" "$steps"
out=$(lb replicate plan.yaml --dry-run)
[[ $out == *"sync/back/after/1"* ]] && [[ $out != *"sync/back/after/2"* ]] \
	&& pass "the others' replicate still goes toward the recovery site (only: directions)" || fail "direction after subset" "$out"
out=$(lb status plan.yaml)
[[ $out == *"db "*"protected"* ]] && [[ $out == *"web "*"failed over"* ]] && pass "status: web failed over, db protected" \
	|| fail "status after subset failover" "$out"
out=$(lb sync site-a/web/data --as web/data --site primary --store replica 2>&1); rc=$?
[ $rc != 0 ] && [[ $out == *"machine web belongs to plan sub.subset, which is failed-over"*"no site may replicate it"* ]] && pass "a sync of web from the primary is fenced" \
	|| fail "web fenced" "exit $rc" "$out"
out=$(lb sync site-a/db/data --as db/data --site primary --store replica 2>&1); rc=$?
[ $rc = 0 ] && pass "db still replicates from the primary" || fail "db fence" "exit $rc" "$out"
for site in recovery drill; do
	out=$(lb sync site-a/db/data --as db/data --site $site --store replica 2>&1); rc=$?
	[ $rc = 2 ] && [[ $out == *"only site primary may replicate it"* ]] && pass "but db stays fenced at the $site site" \
		|| fail "db from $site" "exit $rc" "$out"
done
expect 2 "*say which site this is with --site (only primary may replicate it now)*" "and a sync of db that names no site is refused" \
	lb sync site-a/db/data --as db/data --store replica
expect 2 "*the plan failed over web only: replicate runs on db, app" "--machines after a subset failover" lb replicate plan.yaml --machines db

# change the recovery point of what failed over: web starts again from its first point
expect 2 "*change-point needs --point P*" "change-point without --point" lb change-point plan.yaml
echo "changed at b" > site-b/web/data/v
WEB1=$(lb points --store replica web/data --json | "$PYTHON" -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')
check "change-point --point web=FIRST" lb change-point plan.yaml --point "web=$WEB1" --yes
J=$(last_job)
steps=$(lb job "$J" --json | "$PYTHON" -c 'import json,sys; print(" ".join(s["id"] for s in json.load(sys.stdin)["steps"]))')
[ "$(restored b web)" = "web v1" ] && [[ $steps == "stop/web/stop front/web/restore front/web/start front/web/health front/after/1" ]] \
	&& pass "change-point: web stopped, restored in place from its first point, started and checked" || fail "change-point" "$(restored b web)" "$steps"
grep -q "\"point\":[[:space:]]*\"$WEB1\"" ".lifeboat/jobs/$J/report.json" && pass "its report names the point used" || fail "change-point report"
expect 2 "*only web failed over: a commit is for the whole plan; fail back*" "a commit after a failover of some machines" lb commit plan.yaml
check "reprotect (web)" lb reprotect plan.yaml
expect 2 "*the recovery site already replicates back (reprotect)*" "change-point after reprotect" lb change-point plan.yaml --point latest
check "failback (web)" lb failback plan.yaml --yes
[ "$(restored a web)" = "web v1" ] && [ "$(lb status plan.yaml --json | "$PYTHON" -c 'import json,sys; d=json.load(sys.stdin); print(d["phase"], d["active"])')" = "protected primary" ] \
	&& pass "failback brings web back as it ran at the recovery site; the plan is protected at the primary again" || fail "failback subset" "$(restored a web)"
check "replicate all again" lb replicate plan.yaml

# preflight checks the point --point names: nothing is fenced or restored for a point that is not there
mkdir pre && cd pre || exit 1
sed 's/^consistency_groups:/consistency_groups_unused:/' ../plan.yaml | sed '/^consistency_groups_unused:/,+1d' > plan.yaml
for m in db app web; do mkdir -p site-a/$m/data; echo "$m" > site-a/$m/data/v; done
lb store init replica >/dev/null
for m in db app web; do lb sync site-a/$m/data --as $m/data --store replica >/dev/null; done
expect 2 "*preflight: no replicate run has a point of every dataset of db (latest-consistent)*" \
	"latest-consistent without a replicate run is refused at preflight" lb failover plan.yaml --point latest-consistent
expect 2 "*preflight: no nosuch point of db/data in the store*" "an unknown point id is refused at preflight" \
	lb drill plan.yaml --point db=nosuch
[ "$(lb store state sub --store replica)" = "" ] || [[ $(lb store state sub --store replica 2>&1) != *"failed-over"* ]] \
	&& pass "and nothing was fenced" || fail "fenced after a refused failover" "$(lb store state sub --store replica)"
cd .. || exit 1

# a replicate resumed later is a run of its own: latest-consistent never mixes its two moments
mkdir resumed && cd resumed || exit 1
cp ../plan.yaml . && for m in db app web; do mkdir -p site-a/$m/data; echo "$m old" > site-a/$m/data/v; done
check "replicate (complete run)" lb replicate plan.yaml
echo "db new" > site-a/db/data/v; mv site-a/app/data site-a/app/gone
out=$(lb replicate plan.yaml 2>&1); rc=$?
J=$(last_job)
mv site-a/app/gone site-a/app/data; echo "app new" > site-a/app/data/v
[ $rc = 1 ] && check "resume it once app is back" lb resume "$J" || fail "replicate with app missing" "exit $rc" "$out"
runs=$(lb points --store replica --json | "$PYTHON" -c 'import json,sys; print(" ".join(sorted({p["machine"]+"="+p["run"].split("-")[-1] for p in json.load(sys.stdin) if p["run"].startswith(sys.argv[1])})))' "$J")
[[ $runs == *"app=1"* ]] && pass "the resumed syncs record run $J-1 ($runs)" || fail "resumed run id" "$runs"
check "drill --point latest-consistent" lb drill plan.yaml --point latest-consistent --keep
[ "$(restored d db)" = "db old" ] && [ "$(restored d app)" = "app old" ] \
	&& pass "latest-consistent takes the complete run, not db and app from two moments" || fail "mixed run" "db $(restored d db) app $(restored d app)"
check "cleanup" lb cleanup plan.yaml
cd .. || exit 1
