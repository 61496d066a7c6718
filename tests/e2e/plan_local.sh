#!/usr/bin/env bash
# The local provider with small data and no servers: the journal of a
# replicate names the real points, a store opened with a passphrase.
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
