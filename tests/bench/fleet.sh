#!/usr/bin/env bash
# make bench, hosts over SSH (plans/fleet): the fleet's replicate — lifeboat
# on each host syncing its data into the S3 store (https) — against the
# same data synced from this machine (the cost of the SSH hop) and against
# restic run on each host over SSH the same way (both hosts at once, into
# the same S3 server). The data: a PostgreSQL database grown with pgbench
# (scale BENCH_FLEET_SCALE) on db, and this machine's installed
# documentation, manual pages and translations on web. Initial sync, then
# incremental after pgbench transactions and a line appended to 1% of the
# web files. Appends a section to docs/benchmarks.md.
#   BENCH_FLEET_SCALE=25   BENCH_DIR=/tmp/lifeboat-bench-fleet (scratch)
set -eu
cd "$(dirname "$0")/../.."
ROOT=$PWD
BUILD=${BUILD:-build}
LB=$ROOT/$BUILD/lifeboat
SCALE=${BENCH_FLEET_SCALE:-25}
W=${BENCH_DIR:-/tmp/lifeboat-bench-fleet}
OUT=$ROOT/docs/benchmarks.md
export LIFEBOAT_NPM_DIR=${LIFEBOAT_NPM_DIR:-$ROOT/build/test-cache/npm}
[ -d "$W/fleet" ] && sh "$W/fleet/lab.sh" down
rm -rf "$W"; mkdir -p "$W"
cp -r plans/fleet "$W/"
rm -rf "$W/fleet/lab" "$W/fleet/.lifeboat" "$W/fleet/store.key" "$W/fleet/.npm"
cd "$W/fleet"
. "$ROOT/tests/bench/lib.sh"
[ -n "${BENCH_KEEP:-}" ] || trap 'sh lab.sh down >/dev/null 2>&1' EXIT
sh lab.sh up >/dev/null
. lab/env
KEY=$PWD/lab/keys/id_ed25519
DB=10.233.1.10 WEB=10.233.1.11

echo "fleet: growing the data (pgbench scale $SCALE on db, /usr/share's docs on web)"
/usr/lib/postgresql/15/bin/pgbench -q -i -s "$SCALE" -h $DB -U postgres shop >/dev/null 2>&1
psql -X -q -h $DB -U postgres -d shop -c CHECKPOINT
mkdir -p lab/hosts/web/srv/www/site/share
cp -a /usr/share/doc /usr/share/man /usr/share/locale lab/hosts/web/srv/www/site/share/
db_bytes=$(du -sb lab/hosts/db/srv/pgdata | cut -f1)
web_bytes=$(du -sb lab/hosts/web/srv/www | cut -f1)
web_files=$(find lab/hosts/web/srv/www -type f | wc -l)

"$LB" agent install plan.yaml --site primary >/dev/null   # the agent's copy is not what is measured
"$LB" store init s3://fleet/replica --encrypt --key-file store.key >/dev/null
"$LB" store init s3://fleet/local --encrypt --key-file store.key >/dev/null
# the three contenders, as scripts /usr/bin/time can run: both hosts at once in each
ssh_on="ssh -q -i $KEY -o BatchMode=yes -o UserKnownHostsFile=$PWD/lab/keys/known_hosts"
restic_cmd="RESTIC_PASSWORD=$RESTIC_PASSWORD AWS_ACCESS_KEY_ID=$AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY=$AWS_SECRET_ACCESS_KEY \
restic --cacert $AWS_CA_BUNDLE --cache-dir /srv/.restic-cache -r s3:$AWS_ENDPOINT_URL/restic-\$n/repo"
cat > restic-on.sh <<SH
#!/bin/sh
# restic-on.sh NAME ADDRESS ARGS...: restic on the host, its repository restic-NAME, its cache in the host's /srv
n=\$1 h=\$2; shift 2
exec $ssh_on root@\$h "$restic_cmd \$*"
SH
cat > run-restic.sh <<SH
#!/bin/sh
sh restic-on.sh db $DB backup -q /srv/pgdata & a=\$!
sh restic-on.sh web $WEB backup -q /srv/www & b=\$!
wait \$a && wait \$b
SH
cat > run-local.sh <<SH
#!/bin/sh
# the same folders, read by lifeboat on this machine
$LB sync lab/hosts/db/srv/pgdata --store s3://fleet/local --key-file store.key --as db/pgdata & a=\$!
$LB sync lab/hosts/web/srv/www --store s3://fleet/local --key-file store.key --as web/www & b=\$!
wait \$a && wait \$b
SH
sh restic-on.sh db $DB init >/dev/null; sh restic-on.sh web $WEB init >/dev/null

for what in initial incr; do
	if [ $what = incr ]; then
		/usr/lib/postgresql/15/bin/pgbench -c 2 -t 2000 -h $DB -U postgres shop >/dev/null 2>&1
		psql -X -q -h $DB -U postgres -d shop -c CHECKPOINT
		find lab/hosts/web/srv/www -type f | awk 'NR % 100 == 0' | while read -r f; do echo "# changed" >> "$f"; done
	fi
	measure "lifeboat.$what" "$LB" replicate plan.yaml
	# the job's sync steps (both at once) and, within them, the engine's own sync on each host
	read -r R[steps.$what] R[engine.$what] < <(/usr/bin/python3 - "$(ls -d .lifeboat/jobs/*-replicate-* | tail -1)/journal.jsonl" <<'PY'
import json, sys
done = [json.loads(l) for l in open(sys.argv[1])]
syncs = [e for e in done if e.get("ev") == "done" and e["step"].endswith("/sync")]
engine = [d["seconds"] for e in syncs for d in e["result"]["datasets"].values()]
print("%.2f %.2f" % (max(e["secs"] for e in syncs), max(engine)))
PY
)
	measure "local.$what" sh run-local.sh
	measure "restic.$what" sh run-restic.sh
done
sh restic-on.sh db $DB snapshots -q >/dev/null   # the repositories hold what was backed up
"$LB" points --store s3://fleet/replica --key-file store.key >/dev/null

{
	echo
	echo "### Hosts over SSH (\`tests/bench/fleet.sh\`, plans/fleet)"
	echo
	echo "Two hosts (network namespaces with their own sshd, this machine's 2 cores shared) replicate"
	echo "into s3rver over https on a third: db holds PostgreSQL grown by \`pgbench -i -s $SCALE\`"
	echo "($(numfmt --to=iec "$db_bytes")), web /usr/share's doc, man and locale folders ($(numfmt --to=iec "$web_bytes"),"
	echo "$web_files files). Incremental: \`pgbench -c 2 -t 2000\` and a line appended to 1% of web's files."
	echo "Both hosts at once in every row; one run."
	echo
	echo "| | initial | incremental |"
	echo "|---|---|---|"
	printf '| `lifeboat replicate` (lifeboat on each host, over SSH) | %s s | %s s |\n' "${R[lifeboat.initial.wall]}" "${R[lifeboat.incr.wall]}"
	printf '| its sync steps (the slower host) | %s s | %s s |\n' "${R[steps.initial]}" "${R[steps.incr]}"
	printf '| within them, `lifeboat sync` on the host (the slower) | %s s | %s s |\n' "${R[engine.initial]}" "${R[engine.incr]}"
	printf '| `lifeboat sync` of the same folders on this machine | %s s | %s s |\n' "${R[local.initial.wall]}" "${R[local.incr.wall]}"
	printf '| `restic backup` on each host over SSH | %s s | %s s |\n' "${R[restic.initial.wall]}" "${R[restic.incr.wall]}"
	echo
	printf 'A sync step takes %s s and %s s more than the engine'"'"'s sync inside it: the agent check (a session\n' \
		"$(awk "BEGIN{printf \"%.2f\", ${R[steps.initial]} - ${R[engine.initial]}}")" \
		"$(awk "BEGIN{printf \"%.2f\", ${R[steps.incr]} - ${R[engine.incr]}}")"
	echo 'over the control master costs about 0.15 s), lifeboat starting on the host and opening the store'
	echo '(its index, over https) and the session around it. The rest of `replicate` is the plan around the'
	echo 'syncs: the store opened here, the plan'"'"'s state and fence, retention. restic on the same hosts takes'
	printf '%sx (initial) and %sx (incremental) the time of `lifeboat replicate`.\n' \
		"$(ratio "${R[restic.initial.wall]}" "${R[lifeboat.initial.wall]}")" "$(ratio "${R[restic.incr.wall]}" "${R[lifeboat.incr.wall]}")"
} >> "$OUT"
echo "fleet: replicate ${R[lifeboat.initial.wall]} / ${R[lifeboat.incr.wall]} s, local ${R[local.initial.wall]} / ${R[local.incr.wall]} s, restic ${R[restic.initial.wall]} / ${R[restic.incr.wall]} s"
