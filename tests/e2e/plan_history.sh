#!/usr/bin/env bash
# A long history: a dataset with 6,500 points (over 1 MiB of `points
# --json`) is listed whole by status, preflight and a drill's restore.
. "$(dirname "$0")/lib.sh"

cat > plan.yaml <<'YAML'
lifeboat: 1
name: hist
store: replica
sites:
  primary: { provider: local, root: site-a }
  recovery: { provider: local, root: site-b }
  drill: { provider: local, root: site-drill }
machines:
  m:
    datasets:
      - { name: data, kind: tree, path: data }
groups:
  - name: g
    machines: [m]
YAML
mkdir -p site-a/m/data && echo "the newest" > site-a/m/data/f
check "replicate" lb replicate plan.yaml
# 6,500 syncs would take minutes: copies of the point under other names
# read back as points of the same dataset, older than the real one (the
# engine orders equal times by name, and these names sort first).
newest=$(ls replica/points/m/data)
"$PYTHON" - replica/points/m/data "$newest" <<'PY'
import shutil, sys
d, p = sys.argv[1], sys.argv[2]
for i in range(6500):
    shutil.copyfile(f"{d}/{p}", f"{d}/{0x0100000000000000 + i:016x}")
PY
size=$(lb points --store replica --json | wc -c)
[ "$size" -gt 1100000 ] && pass "the history lists $size bytes of JSON" || fail "history size" "$size"

out=$(lb status plan.yaml --json 2>&1); rc=$?
[ "$rc" = 0 ] && [[ $out == *"\"newest_point\":\"$newest\""* ]] && pass "status lists a 6,500-point history" \
	|| fail "status of a long history" "exit $rc" "${out:0:300}"
out=$(lb drill plan.yaml 2>&1); rc=$?
[ "$rc" = 0 ] && [[ $out == *"point $newest"* ]] && pass "a drill restores the newest of 6,500 points" \
	|| fail "drill of a long history" "exit $rc" "$out"
