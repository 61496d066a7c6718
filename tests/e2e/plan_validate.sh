#!/usr/bin/env bash
# Plan checking: the malformed-plan corpus (each file's first line holds the
# exact error it must produce), every problem reported at once, the example
# plans valid, and the JSON Schema agreeing with the loader.
. "$(dirname "$0")/lib.sh"
SRC=$OLDPWD
cd "$SRC" || exit 1

for f in tests/plans/bad/*.yaml; do
	want="$f:$(head -1 "$f" | sed 's/^# expect: //')"
	got=$(timeout -s KILL 60 ${LIFEBOAT_WRAP:-} "$LB_BIN" validate "$f" 2>&1); rc=$?
	if [ "$rc" = 2 ] && [ "$got" = "$want" ]; then pass "bad plan $(basename "$f")"
	else fail "bad plan $(basename "$f")" "exit $rc" "got:  $got" "want: $want"; fi
done
# alias cycles and bombs are refused at once (the checker walks the expanded tree)
for f in tests/plans/bad/42-yaml-alias-cycle.yaml tests/plans/bad/43-yaml-alias-bomb.yaml; do
	start=$(date +%s%N)
	timeout -s KILL 20 "$LB_BIN" validate "$f" >/dev/null 2>&1; rc=$?
	ms=$(( ($(date +%s%N) - start) / 1000000 ))
	[ "$rc" = 2 ] && [ "$ms" -lt 2000 ] && pass "$(basename "$f") is refused in ${ms} ms" \
		|| fail "$(basename "$f") is refused quickly" "exit $rc after $ms ms"
done
n=$(ls tests/plans/bad/*.yaml | wc -l)
[ "$n" -ge 30 ] && pass "corpus has $n malformed plans" || fail "corpus has only $n malformed plans"

out=$(lb validate tests/plans/many-errors.yaml 2>&1); rc=$?
lines=$(printf '%s\n' "$out" | grep -c '^tests/plans/many-errors.yaml:[0-9]*:[0-9]*: ')
[ "$rc" = 2 ] && [ "$lines" -ge 15 ] && pass "validate reports every problem at once ($lines)" \
	|| fail "validate reports every problem at once" "exit $rc, $lines lines" "$out"
printf '%s\n' "$out" | sort -t: -k2,2n -k3,3n -c 2>/dev/null && pass "problems are in file order" \
	|| fail "problems are in file order"
json=$(lb validate tests/plans/many-errors.yaml --json 2>/dev/null)
[[ $json == '{"errors":[{"col":'*'"valid":false}' ]] && pass "validate --json" || fail "validate --json" "$json"

for p in plans/*.yaml plans/*/plan.yaml; do
	[ -f "$p" ] || continue
	check "example plan $p is valid" lb validate "$p"
done

lb schema > "$WORK/schema.json"
check "schema is JSON" "$PYTHON" -c "import json,sys; json.load(open(sys.argv[1]))" "$WORK/schema.json"
cat > "$WORK/check_schema.py" <<'PY'
import json, sys, yaml, jsonschema
schema = json.load(open(sys.argv[1]))
jsonschema.Draft202012Validator.check_schema(schema)
v = jsonschema.Draft202012Validator(schema)
bad = 0
for path in sys.argv[2:]:
    errs = list(v.iter_errors(yaml.safe_load(open(path))))
    for e in errs:
        print(path, list(e.path), e.message); bad += 1
sys.exit(1 if bad else 0)
PY
plans=$(ls plans/*.yaml plans/*/plan.yaml 2>/dev/null)
# shellcheck disable=SC2086
check "example plans validate against the JSON Schema" "$PYTHON" "$WORK/check_schema.py" "$WORK/schema.json" $plans
# a plan the loader refuses for a key is refused by the schema too
check "the schema refuses an unknown key" bash -c \
	"! $PYTHON '$WORK/check_schema.py' '$WORK/schema.json' tests/plans/bad/07-unknown-machine-key.yaml >/dev/null"

cat > "$WORK/keys.lua" <<'LUA'
local keys = require("lifeboat.schema").known_keys()
print(json.encode(keys))
LUA
lb run "$WORK/keys.lua" > "$WORK/keys.json"
cat > "$WORK/agree.py" <<'PY'
import json, sys
schema = json.load(open(sys.argv[1])); loader = json.load(open(sys.argv[2]))
def walk(s, path, out):
    if "properties" in s:
        out[path] = sorted(s["properties"])
        for k, v in s["properties"].items(): walk(v, path + "." + k, out)
    if "items" in s: walk(s["items"], path + "[]", out)
    if isinstance(s.get("additionalProperties"), dict): walk(s["additionalProperties"], path + ".*", out)
    for alt in s.get("anyOf", []): walk(alt, path, out)
out = {}; walk(schema, "plan", out)
diff = [(p, out.get(p), loader.get(p)) for p in set(out) | set(loader) if out.get(p) != loader.get(p)]
for d in diff: print("disagree:", d)
sys.exit(1 if diff else 0)
PY
check "schema and loader agree on every object's keys" "$PYTHON" "$WORK/agree.py" "$WORK/schema.json" "$WORK/keys.json"

expect 2 "*cannot read*No such file*" "validate of a missing file" lb validate "$WORK/none.yaml"
expect 2 "*unknown option '--bogus'*" "validate with an unknown option" lb validate plans/paper.yaml --bogus
expect 2 "*one plan file is needed*" "validate without a plan" lb validate
