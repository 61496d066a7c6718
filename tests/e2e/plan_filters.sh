#!/usr/bin/env bash
# only: narrows actions by operation, planned/unplanned and direction, and
# actions run in every operation that names them (replicate, cleanup,
# commit, reprotect too), through a whole lifecycle on the noop provider.
. "$(dirname "$0")/lib.sh"

mkdir run && cd run || exit 1
cat > plan.yaml <<'YAML'
lifeboat: 1
name: filters
machines:
  db: {}
  web: {}
groups:
  - name: data
    machines: [db]
    before:
      - { exec: "echo default >> ../events" }
      - { exec: "echo replicate-before >> ../events", only: [replicate] }
      - { exec: "echo planned-failover >> ../events", only: [failover, planned] }
      - { exec: "echo unplanned >> ../events", only: [unplanned] }
      - { exec: "echo back >> ../events", only: [to-primary] }
      - { exec: "echo drill-back >> ../events", only: [drill, to-primary] }
      - { exec: "echo cleanup-before >> ../events", only: [cleanup] }
      - { exec: "echo commit-before >> ../events", only: [commit] }
      - { exec: "echo reprotect-before >> ../events", only: [reprotect] }
    after:
      - { exec: "echo replicate-after >> ../events", only: [replicate] }
      - { exec: "echo cleanup-after >> ../events", only: [cleanup] }
  - name: front
    machines: [web]
YAML

# ran OP ARGS... EXPECTED: the actions a job ran, in order, space-separated
ran() {
	local want=${*: -1} got
	rm -f ../events
	lb "${@:1:$#-1}" plan.yaml --yes >/dev/null 2>&1 || { fail "$* ran" "exit $?"; return; }
	got=$(tr '\n' ' ' < ../events 2>/dev/null | sed 's/ $//')
	[ "$got" = "$want" ] && pass "${*:1:$#-1}: $want" || fail "${*:1:$#-1}" "got:  $got" "want: $want"
}

ran replicate "replicate-before replicate-after"
ran drill "default cleanup-before cleanup-after"
ran drill --keep "default"
ran cleanup "cleanup-before cleanup-after"
ran failover --planned "default planned-failover"
ran reprotect "reprotect-before"
ran replicate "replicate-before replicate-after"
ran drill "default back drill-back cleanup-before cleanup-after"
ran failback "default back"
ran failover "default unplanned"
ran commit "commit-before"

# show lists them too, so a dry run tells what will run
out=$(lb show plan.yaml --op commit)
[[ $out == *"commit/data/before/8"*"commit-before"* ]] && pass "show lists a commit's actions" || fail "show commit" "$out"

# a list that can never match, and prepare outside machines coming up, are refused
cat > never.yaml <<'YAML'
lifeboat: 1
name: never
machines:
  db:
    prepare:
      - { exec: "true", only: [failover, unplanned] }
      - { exec: "true", only: [reprotect] }
groups:
  - name: g
    machines: [db]
    after:
      - { exec: "true", only: [commit, unplanned] }
YAML
out=$(lb validate never.yaml 2>&1); rc=$?
[ $rc = 2 ] && [[ $out == *"never.yaml:7:32: machines.db.prepare[2].only[1]: 'reprotect' is not where machines come up"* ]] \
	&& [[ $out == *"never.yaml:12:25: group 'g' after[1].only: 'commit' is never planned or unplanned, so the action would never run in commit jobs"* ]] \
	&& [[ $out != *"prepare[1]"* ]] && pass "never-matching only: lists are refused with FILE:LINE:COL" \
	|| fail "never-matching only:" "exit $rc" "$out"
cat > dirs.yaml <<'YAML'
lifeboat: 1
name: dirs
machines:
  db: {}
groups:
  - name: g
    machines: [db]
    after:
      - { exec: "true", only: [drill, reprotect, to-recovery] }
      - { exec: "true", only: [unplanned, to-primary] }
YAML
out=$(lb validate dirs.yaml 2>&1); rc=$?
[ $rc = 2 ] && [[ $out == *"dirs.yaml:9:25: group 'g' after[1].only: 'reprotect' always goes to-primary, so the action would never run in reprotect jobs"* ]] \
	&& [[ $out == *"dirs.yaml:10:25: group 'g' after[2].only: no operation where machines come up fits all of unplanned, to-primary"* ]] \
	&& pass "an operation whose direction the list excludes is refused" || fail "direction never matches" "exit $rc" "$out"
