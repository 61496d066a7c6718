#!/usr/bin/env bash
# Every command of the replication core prints, with --json, one line of
# JSON of exactly the shape docs/cli.md shows for it (same keys, same
# types, nested objects and arrays of objects too).
. "$(dirname "$0")/lib.sh"

DOC=$E2E_DIR/../../docs/cli.md
shape='
import json, re, sys
doc, section, path = sys.argv[1:4]
text = open(doc).read()
m = re.search(r"^## " + re.escape(section) + r"\n(.*?)(?=^## |\Z)", text, re.S | re.M)
blocks = re.findall(r"```json\n(.*?)```", m.group(1), re.S) if m else []
nth = int(sys.argv[4]) if len(sys.argv) > 4 else 0
if len(blocks) <= nth:
    sys.exit("docs/cli.md has no JSON example %d under ## %s" % (nth + 1, section))
want = json.loads(blocks[nth])
lines = open(path).read().splitlines()
if len(lines) != 1:
    sys.exit("want one line of JSON, got %d lines" % len(lines))
got = json.loads(lines[0])
kind = lambda v: "number" if type(v) in (int, float) else type(v).__name__
def same(w, g, where):
    if w is None or g is None:
        return
    if kind(w) != kind(g):
        sys.exit("%s: %s in the docs, %s in the output" % (where, kind(w), kind(g)))
    if isinstance(w, dict):
        if set(w) != set(g):
            sys.exit("%s: keys differ: docs only %s, output only %s" % (where, sorted(set(w) - set(g)), sorted(set(g) - set(w))))
        for k in w:
            same(w[k], g[k], where + "." + k)
    elif isinstance(w, list) and w:
        if not g:
            sys.exit("%s: empty in the output: the example needs an element" % where)
        for i, e in enumerate(g):
            same(w[0], e, "%s[%d]" % (where, i))
same(want, got, section)
'
# shape SECTION DESC COMMAND...: the command's stdout has the documented shape
# (of the section's first JSON example, or of example EXAMPLE counted from 0).
shape() {
	local section=$1 desc=$2; shift 2
	"$@" >out.json 2>err.txt
	local rc=$? why
	why=$("$PYTHON" -c "$shape" "$DOC" "$section" out.json "${EXAMPLE:-0}" 2>&1)
	if [ -z "$why" ]; then pass "$desc"; else fail "$desc" "exit $rc: $(cat err.txt)" "$why" "output: $(head -c 600 out.json)"; fi
}

shape "store init" "store init --json" lb store init st --json
shape "store init" "store init --encrypt --json" lb store init est --encrypt --key-file k --json
"$GEN" create a.img 8M "$SEED"
mkdir -p tree/sub; echo one > tree/sub/f
shape sync "sync --json (image)" lb sync a.img --store st --as web01/disk0 --json
"$GEN" mutate a.img 5 $((SEED + 1)) >/dev/null
shape sync "sync --json (incremental)" lb sync a.img --store st --as web01/disk0 --json
EXAMPLE=1 shape sync "sync --json (tree)" lb sync tree --store st --as web01/etc --json
shape sync "sync --json (encrypted store)" lb sync a.img --store est --as m/d --key-file k --json
name='we"b\01'
shape sync "sync --json with quotes and backslashes in the name" lb sync a.img --store st --as "$name/d" --json
check "which round-trips" test "$("$PYTHON" -c 'import json,sys; print(json.load(open("out.json"))["machine"])')" = "$name"
shape points "points --json" lb points --store st --json
shape points "points --json with a scope" lb points --store st web01/disk0 --json
check "an empty list is []" test "$(lb points --store st nobody --json)" = "[]"
shape restore "restore --json" lb restore --store st web01/disk0 out.img --json
shape restore "restore --delta --json" lb restore --store st web01/disk0 out.img --delta --json
shape restore "restore --json (tree)" lb restore --store st web01/etc out.tree --json
shape verify "verify --json" lb verify --store st --json
shape verify "verify --full --json" lb verify --store st --full --json
shape prune "prune --dry-run --json" lb prune --store st web01/disk0 --keep-last 1 --dry-run --json
shape prune "prune --json" lb prune --store st web01/disk0 --keep-last 1 --json
shape repair "repair --dry-run --json" lb repair --store st --dry-run --json
shape repair "repair --json" lb repair --store st --json
rm "st/index/$(ls st/index | head -1)"
shape verify "verify --json of a damaged store (exit 1)" lb verify --store st --json
shape repair "repair --json of a damaged store" lb repair --store st --json
shape version "version --json" lb version --json
shape version "--version --json" lb --version --json
lb store init st2 >/dev/null
shape "store copy" "store copy --json" lb store copy st st2 --json
shape "store state" "store state --json (recording)" lb store state hotel --store st --phase protected --active primary --source primary --machines web01 --json
shape "store state" "store state --json (reading)" lb store state hotel --store st --json
shape "store info" "store info --json" lb store info st --json
check "store info of no store says why" sh -c "'$LB_BIN' store info nowhere --json | grep -q '\"exists\":false,\"why\":'"
check "no state recorded is null" test "$(lb store state other --store st --json)" = "null"
