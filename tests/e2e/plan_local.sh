#!/usr/bin/env bash
# The local provider with small data and no servers: the journal of a
# replicate names the real points; a store opened with a passphrase; a
# planned failover needs the primary verified down; processes are signalled
# only while their pid still names them; a start run again after kill -9
# leaves the machine running once, also when its pid never reached the
# journal.
. "$(dirname "$0")/lib.sh"

last_job() { "$LB_BIN" jobs | tail -1 | cut -d" " -f1; }
journal() { echo ".lifeboat/jobs/$1/journal.jsonl"; }

cat > plan.yaml <<'YAML'
lifeboat: 1
name: loc
store: replica
sites:
  primary: { provider: local, root: site-a }
  recovery: { provider: local, root: site-b }
  drill: { provider: local, root: site-drill }
machines:
  app:
    datasets:
      - { name: data, kind: tree, path: data }
      - { name: disk, kind: image, path: disk.img }
groups:
  - name: g
    machines: [app]
YAML
mkdir -p site-a/app/data && echo one > site-a/app/data/f && head -c 100000 /dev/urandom > site-a/app/disk.img

# the journal of a replicate names the points it took
check "replicate" lb replicate plan.yaml
J=$(last_job)
lb points --store replica --json > points.json
"$PYTHON" - "$(journal "$J")" points.json <<'PY' && pass "the replicate's journal holds the real point ids" || fail "point ids in the journal"
import json, sys
done = [json.loads(l) for l in open(sys.argv[1])]
res = [e for e in done if e.get("ev") == "done" and e.get("step") == "sync/app/sync"][0]["result"]["datasets"]
ids = {(p["dataset"]): p["id"] for p in json.load(open(sys.argv[2]))}
print("# journal", {k: v.get("point") for k, v in res.items()}, "store", ids)
sys.exit(0 if res["data"].get("point") == ids["data"] and res["disk"].get("point") == ids["disk"] else 1)
PY

# a store encrypted with a passphrase (the plan names no key file): the
# lifeboat children that sync and restore get the passphrase too
mkdir pass && cp plan.yaml pass/ && cp -r site-a pass/ && cd pass || exit 1
export LIFEBOAT_PASSPHRASE="correct horse battery staple"
check "store init with a passphrase" lb store init replica --encrypt
check "replicate to a passphrase store" lb replicate plan.yaml
check "drill from a passphrase store" lb drill plan.yaml
unset LIFEBOAT_PASSPHRASE
cd .. || exit 1

# a planned failover needs the primary verified down before its final sync
newest_consistency() { # DATASET -> consistency of its newest point
	lb points --store replica app/"$1" --json | "$PYTHON" -c 'import json,sys; print(json.load(sys.stdin)[-1]["consistency"])'
}
planned_site() { # FOLDER STOP_COMMAND: a copy of the plan with that stop, replicated
	mkdir "$1" && cp -r site-a "$1"/ && cd "$1" || exit 1
	sed "s|^  app:|  app:\n    stop: \"$2\"|" ../plan.yaml > plan.yaml
	lb replicate plan.yaml >/dev/null || fail "replicate in $1"
}
planned_site fo-ok "true"
out=$(lb failover plan.yaml --planned --yes 2>&1); rc=$?
[ "$rc" = 0 ] && [ "$(newest_consistency data)" = planned ] && [ -f site-b/app/data/f ] \
	&& pass "planned failover with a stop that works: the final point is planned" || fail "planned failover" "exit $rc" "$out"
cd .. || exit 1

planned_site fo-bad "false"
out=$(lb failover plan.yaml --planned --yes 2>&1); rc=$?
[ "$rc" = 1 ] && [[ $out == *"shutdown/app/stop: the stop command exited 1 (so nothing is brought up; --force goes on"* ]] \
	&& pass "a stop that fails fails the planned failover (exit 1)" || fail "failed stop" "exit $rc" "$out"
[ ! -e site-b ] && [[ $out != *"start  g/app/restore"* ]] && pass "nothing was brought up at the recovery site" \
	|| fail "recovery site after a failed stop" "$(ls)" "$out"
[ "$(newest_consistency data)" = crash ] && pass "no final point was taken as planned" || fail "planned point" "$(newest_consistency data)"
out=$(lb status plan.yaml 2>&1)
[[ $out == *"active site primary (protected)"* ]] && pass "the plan still runs at the primary" || fail "state" "$out"
out=$(lb failover plan.yaml --planned --force --yes 2>&1); rc=$?
[ "$rc" = 0 ] && [[ $out == *"not verified down at primary"*"crash-consistent"* ]] && [ -f site-b/app/data/f ] \
	&& pass "--force: the failover goes on" || fail "failover --force" "exit $rc" "$out"
[ "$(newest_consistency data)" = crash ] && [ "$(newest_consistency disk)" = crash ] \
	&& pass "--force: the final point is crash-consistent" || fail "forced final point" "$(newest_consistency data)"
expect 2 "*--force is for failover --planned and failback*" "--force without --planned" lb failover plan.yaml --force
cd .. || exit 1

# the provider's running() decides: a machine that still runs after a stop
# that reported success is not synced as planned either
mkdir stubborn && cd stubborn && mkdir providers || exit 1
cat > providers/stubborn.lua <<'LUA'
local P = { name = "stubborn" }
function P.dataset_path(site, m, ds) return "stubborn:" .. m.name end
function P.stop(ctx) return { said = "stopped" } end
function P.running(ctx) return true end
function P.sync(ctx) fs.write("synced." .. ctx.consistency, "x"); return {} end
function P.restore(ctx) return {} end
function P.start(ctx) return {} end
function P.remove(ctx) return {} end
return P
LUA
cat > plan.yaml <<'YAML'
lifeboat: 1
name: stubborn
sites:
  primary: { provider: stubborn }
  recovery: { provider: noop }
machines:
  m: {}
groups:
  - name: g
    machines: [m]
YAML
out=$(lb failover plan.yaml --planned 2>&1); rc=$?
[ "$rc" = 1 ] && [[ $out == *"final/m/sync: m is not verified down at primary (it still runs after its stop)"* ]] \
	&& [[ $out != *"start  g/m/restore"* ]] && [ ! -e synced.planned ] \
	&& pass "running() after a stop: the failover stops before the final sync" || fail "running after stop" "exit $rc" "$out"
out=$(lb failover plan.yaml --planned --force 2>&1); rc=$?
[ "$rc" = 0 ] && [ -e synced.crash ] && [ ! -e synced.planned ] && pass "--force: synced as crash-consistent" \
	|| fail "running after stop, forced" "exit $rc" "$out"
cd .. || exit 1

# stop and cleanup signal a recorded pid only while it names the process
# lifeboat started (start time and boot id in the journal)
mkdir pids && cd pids || exit 1
cat > plan.yaml <<'YAML'
lifeboat: 1
name: pids
sites:
  primary: { provider: local, root: site-a }
  recovery: { provider: local, root: site-b }
  drill: { provider: local, root: site-drill }
machines:
  app: { start: [sleep, "300"] }
groups:
  - name: g
    machines: [app]
YAML
running() { ps -o stat= -p "$1" | grep -qv '^Z'; } # a zombie has ended
recorded_pid() { "$PYTHON" -c '
import json, sys
for l in open(sys.argv[1]):
    e = json.loads(l)
    if e.get("ev") == "created" and e.get("kind") == "process" and e.get("pid"):
        print(e["pid"], e.get("start"), e.get("boot"))' "$(journal "$1")"; }
check "drill --keep starts the machine" lb drill plan.yaml --keep
read -r pid start boot <<< "$(recorded_pid "$(last_job)")"
[[ $start =~ ^[0-9]+$ ]] && [[ $boot =~ ^[0-9a-f-]{36}$ ]] && pass "the journal records the process's start time and boot id" \
	|| fail "process identity in the journal" "$pid $start $boot"
check "cleanup" lb cleanup plan.yaml
running "$pid" && fail "cleanup stops the process lifeboat started" || pass "cleanup stops the process lifeboat started"

check "drill --keep again" lb drill plan.yaml --keep
J=$(last_job)
read -r pid _ <<< "$(recorded_pid "$J")"
kill -9 -- "-$pid"
# the pid now names another process (as after a reboot or pid reuse): here
# an unrelated process group leader written into the journal in its place
setsid sleep 301 &
other=$!
sleep 0.1
sed -i "s/\"pid\":$pid\([,}]\)/\"pid\":$other\1/g" "$(journal "$J")"
check "cleanup after the process died" lb cleanup plan.yaml
if running "$other"; then pass "cleanup does not signal an unrelated process that has the recorded pid"
else fail "cleanup killed an unrelated process with the recorded pid"; fi
kill "$other" 2>/dev/null
for p in $(grep -ho '"pid":[0-9]*' .lifeboat/jobs/*/journal.jsonl | cut -d: -f2 | sort -u); do kill "$p" 2>/dev/null; done
cd .. || exit 1

# a start step killed after it started the machine runs again on resume:
# the machine still runs once
mkdir twice && cd twice || exit 1
sed 's|  app: { start: \[sleep, "300"\] }|  app: { start: [sh, -c, "echo $$ >> ${{ plan.dir }}/started; exec sleep 300"] }|' ../pids/plan.yaml > plan.yaml
"$LB_BIN" failover plan.yaml >fo.out 2>&1 &
fo=$!
for _ in $(seq 100); do grep -qs '"kind":"process","log"[^}]*"pid"' .lifeboat/jobs/*/journal.jsonl && break; sleep 0.05; done
kill -9 "$fo"; wait "$fo" 2>/dev/null
J=$(last_job)
grep -q '"ev":"done"[^}]*"step":"g/app/start"' "$(journal "$J")" && fail "the kill came after the start step finished"
out=$(lb resume "$J" 2>&1); rc=$?
[ "$rc" = 0 ] && pass "resume of a failover killed in its start step" || fail "resume after kill in start" "exit $rc" "$out"
alive=0
while read -r p; do running "$p" && alive=$((alive + 1)); done < started
[ "$(wc -l < started)" = 2 ] && [ "$alive" = 1 ] && pass "the machine runs once: the first process was stopped before the second start" \
	|| fail "processes after resume" "started $(wc -l < started), running $alive"
# whatever it started, by the pids it recorded
for p in $(cat started 2>/dev/null) $(grep -o '"pid":[0-9]*' "$(journal "$J")" | cut -d: -f2); do kill "$p" 2>/dev/null; done
cd .. || exit 1

# lifeboat killed after a start spawned the machine but before its pid
# reached the journal (the journal then holds only the start's announcement;
# made here by deleting the pid's line): resume and cleanup still find it
mkdir unrecorded && cd unrecorded || exit 1
cp ../twice/plan.yaml .
"$LB_BIN" failover plan.yaml >fo.out 2>&1 &
fo=$!
for _ in $(seq 100); do grep -qs '"kind":"process","log"[^}]*"pid"' .lifeboat/jobs/*/journal.jsonl && break; sleep 0.05; done
kill -9 "$fo"; wait "$fo" 2>/dev/null
J=$(last_job)
sed -i '/"kind":"process","log"[^}]*"pid"/d' "$(journal "$J")"
out=$(lb resume "$J" 2>&1); rc=$?
alive=0
while read -r p; do running "$p" && alive=$((alive + 1)); done < started
[ "$rc" = 0 ] && [ "$(wc -l < started)" = 2 ] && [ "$alive" = 1 ] \
	&& pass "resume stops a process whose pid never reached the journal before starting the machine again" \
	|| fail "unrecorded process on resume" "exit $rc, started $(wc -l < started), running $alive" "$out"
for p in $(cat started); do kill "$p" 2>/dev/null; done
rm -rf .lifeboat started site-b
check "drill --keep" lb drill plan.yaml --keep
J=$(last_job)
p=$(cat started)
sed -i '/"kind":"process","log"[^}]*"pid"/d' "$(journal "$J")"
check "cleanup" lb cleanup plan.yaml
running "$p" && fail "cleanup stops a process whose pid never reached the journal" || pass "cleanup stops a process whose pid never reached the journal"
for p in $(cat started); do kill "$p" 2>/dev/null; done
cd .. || exit 1

# preflight checks that a machine's start and stop programs are on PATH:
# after NAME=value assignments (a value may be an expression with spaces),
# not the shell's own words (cd, exec...)
mkdir -p pf && cd pf || exit 1
mkdir -p a/m/d
pf_plan() { cat > pf.yaml <<YAML
lifeboat: 1
name: pf
store: replica
sites:
  primary: { provider: local, root: a }
  recovery: { provider: local, root: b }
  drill: { provider: local, root: d }
machines:
  m:
    datasets: [ { name: d, kind: tree, path: d } ]
    start: $1
    stop: $2
groups: [ { name: g, machines: [m] } ]
YAML
}
pf_plan 'cd . && exec sleep 30' 'PGX=${{ env.HOME }} A="x y" true'
out=$("$LB_BIN" replicate pf.yaml --dry-run 2>&1); rc=$?
[ $rc = 0 ] && [[ $out == *"preflight: ok"* ]] && pass "preflight: shell words and leading assignments are not taken for programs" \
	|| fail "preflight of shell words" "exit $rc" "$out"
pf_plan 'exec sleep 30' 'PGX=${{ env.HOME }} Y=2 no-such-program-x stop'
out=$("$LB_BIN" replicate pf.yaml --dry-run 2>&1); rc=$?
[ $rc != 0 ] && [[ $out == *"stop command 'no-such-program-x' is not on PATH"* ]] && pass "preflight: the program after the assignments is checked" \
	|| fail "preflight after assignments" "exit $rc" "$out"
cd .. || exit 1

# policy.retention after a replicate: points older than it go (the newest
# of each dataset stays); a replicate with nothing to forget prunes nothing
mkdir ret && cd ret || exit 1
sed 's/^store: replica$/store: replica\npolicy: { retention: 3s }/' ../plan.yaml > plan.yaml
mkdir -p site-a/app/data && echo one > site-a/app/data/f && head -c 100000 /dev/urandom > site-a/app/disk.img
lb replicate plan.yaml >/dev/null 2>&1; lb replicate plan.yaml >/dev/null 2>&1
J=$(last_job)
if [ "$(lb points --store replica | grep -c app/)" = 4 ] && ! grep -q '"prune"\|lifeboat prune\|\$ .* prune ' .lifeboat/jobs/"$J"/logs/*; then
	pass "retention: a replicate with no point older than the policy prunes nothing"
else fail "retention: a replicate with no point older than the policy prunes nothing" "$(cat .lifeboat/jobs/"$J"/logs/* | tail -5)"; fi
sleep 4
out=$(lb replicate plan.yaml 2>&1)
J=$(last_job)
if [ "$(lb points --store replica | grep -c app/)" = 2 ] && grep -q '"points_forgotten":4' "$(journal "$J")"; then
	pass "retention: points older than policy.retention are forgotten, the newest of each dataset stays"
else fail "retention: points older than policy.retention are forgotten, the newest of each dataset stays" "$out" "$(lb points --store replica)"; fi
cd .. || exit 1
