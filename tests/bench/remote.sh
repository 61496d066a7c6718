#!/usr/bin/env bash
# make bench, remote stores: lifeboat against restic on the same image, in
# one run, on real servers on 127.0.0.1 — S3 (s3rver, over https for both
# tools: restic's S3 client signs streamed bodies that s3rver cannot read
# over http), Azure Blob (Azurite) and SFTP (OpenSSH's sshd) — and lifeboat
# on a folder store as the baseline. Initial sync, incremental sync after a
# 1% mutation, and restore of the second point: wall time (median of
# BENCH_RUNS interleaved rounds) and peak RSS. Then one more, untimed pass
# of each tool through a counting proxy gives the HTTP requests per GiB of
# image written and read. Appends a section to docs/benchmarks.md (run
# after tests/bench/run.sh, which writes the file).
#
#   BENCH_REMOTE_SIZE=2G   BENCH_RUNS=3   BENCH_DIR=bench-remote (scratch)
set -eu
cd "$(dirname "$0")/../.."
ROOT=$PWD
BUILD=${BUILD:-build}
LB=$ROOT/$BUILD/lifeboat
GEN=$ROOT/$BUILD/tools/genimage
SIZE=${BENCH_REMOTE_SIZE:-2G}
RUNS=${BENCH_RUNS:-3}
W=${BENCH_DIR:-$ROOT/bench-remote}
OUT=$ROOT/docs/benchmarks.md
rm -rf "$W"; mkdir -p "$W"; cd "$W"
. "$ROOT/tests/bench/lib.sh"

# the servers, as the tests start them
WORK=$W PYTHON=/usr/bin/python3 E2E_DIR=$ROOT/tests/e2e
cleanup_work() { cd "$ROOT"; rm -rf "$W"; }
. "$ROOT/tests/e2e/lib_stores.sh"
PROXY=$ROOT/tests/tools/faultproxy.py
start_s3rver "" tls
start_azurite
start_sshd
S3_HTTPS=$AWS_ENDPOINT_URL
export AWS_CA_BUNDLE=$S3_CA
SSH_CMD="ssh -p $SSH_PORT -i $LIFEBOAT_SSH_KEY -o IdentitiesOnly=yes -o UserKnownHostsFile=$LIFEBOAT_SSH_KNOWN_HOSTS -o StrictHostKeyChecking=yes -o BatchMode=yes $(id -un)@127.0.0.1 -s sftp"
SFTP_DIR=$W/sshd/data

echo "generating a $SIZE image (seed 1) and its 1% mutation (seed 2)"
"$GEN" create v1.img "$SIZE" 1
cp --sparse=always v1.img v2.img
"$GEN" mutate v2.img 1 2 >/dev/null
img_bytes=$(stat -c %s v1.img)
cp --sparse=always v1.img v1.orig

export LIFEBOAT_PASSPHRASE=bench-password
n=0   # callers count up before they ask for a fresh name (these run in $( ))
lb_url() { # BACKEND: a store URL of this round
	case $1 in
	local) echo "$W/lb-local-$n" ;;
	s3) echo "s3://lb-bench-$n/store" ;;
	azure) echo "az://lb-bench-$n/store" ;;
	sftp) echo "sftp://$(id -un)@127.0.0.1:$SSH_PORT$SFTP_DIR/lb-$n" ;;
	esac
}
restic_repo() { # BACKEND
	case $1 in
	local) echo "$W/restic-local-$n" ;;
	s3) echo "s3:$AWS_ENDPOINT_URL/restic-bench-$n/repo" ;;
	sftp) echo "sftp:$(id -un)@127.0.0.1:$SFTP_DIR/restic-$n" ;;
	esac
}

bench_lifeboat() { # BACKEND
	local b=$1 url
	n=$((n + 1)); url=$(lb_url "$b")
	"$LB" store init "$url" --encrypt >/dev/null
	warm v1.img; measure "lifeboat.$b.initial" "$LB" sync v1.img --store "$url" --as vm/disk
	warm v2.img; measure "lifeboat.$b.incr" "$LB" sync v2.img --store "$url" --as vm/disk
	rm -f out.img; measure "lifeboat.$b.restore" "$LB" restore --store "$url" vm/disk out.img
	cmp v2.img out.img; rm -f out.img
	case $b in   # each round's stores go once measured (three rounds of them fill a small disk)
	local) rm -rf "$url" ;;
	s3) rm -rf "$W/s3rver/lb-bench-$n" ;;
	azure) "$LB" prune --store "$url" --forget-all vm >/dev/null 2>&1 || true ;;
	sftp) rm -rf "$SFTP_DIR/lb-$n" ;;
	esac
}

bench_restic() { # BACKEND
	local b=$1 repo opts=(--cacert "$S3_CA" -o "sftp.command=$SSH_CMD")
	n=$((n + 1)); repo=$(restic_repo "$b")
	rm -rf "$RESTIC_CACHE_DIR"
	restic "${opts[@]}" -r "$repo" init >/dev/null
	cp --sparse=always v1.orig v1.img
	warm v1.img; measure "restic.$b.initial" restic "${opts[@]}" -r "$repo" backup v1.img
	cp --sparse=always v2.img v1.img.new && mv v1.img.new v1.img   # the same path: restic sees one file change
	warm v1.img; measure "restic.$b.incr" restic "${opts[@]}" -r "$repo" backup v1.img
	rm -rf restic-out
	measure "restic.$b.restore" restic "${opts[@]}" -r "$repo" restore latest --target restic-out
	cmp v2.img restic-out/v1.img; rm -rf restic-out
	cp --sparse=always v1.orig v1.img
	case $b in
	local) rm -rf "$repo" ;;
	s3) rm -rf "$W/s3rver/restic-bench-$n" ;;
	sftp) rm -rf "$SFTP_DIR/restic-$n" ;;
	esac
}

for round in $(seq "$RUNS"); do
	echo "round $round of $RUNS"
	for b in local s3 azure sftp; do bench_lifeboat "$b"; done
	for b in local s3 sftp; do bench_restic "$b"; done
done
medians

# What the servers themselves allow on this machine: the same number of
# bytes as lifeboat's store holds, as 16 MiB objects, put with 4 transfers
# in flight and read back with 8, by curl (no chunking, compression or
# encryption): a floor under any client's time here.
n=$((n + 1)); url=$(lb_url local); "$LB" store init "$url" --encrypt >/dev/null; "$LB" sync v1.orig --store "$url" --as vm/disk >/dev/null 2>&1
stored=$(du -sb "$url" | cut -f1)
nobj=$(( (stored + 16777215) / 16777216 ))
mkdir -p floor; for i in $(seq "$nobj"); do head -c 16777216 /dev/urandom >"floor/o$i"; done
export S3_CA S3_HTTPS SSH_PORT SFTP_DIR LIFEBOAT_SSH_KEY
SFTP_FP=$(ssh-keygen -lf "$W/sshd/host_ed25519.pub" -E sha256 | awk '{print $2}' | sed 's/^SHA256://'); export SFTP_FP
s3_curl() { curl -sS --cacert "$S3_CA" --aws-sigv4 aws:amz:us-east-1:s3 -u S3RVER:S3RVER -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" "$@"; }
sftp_curl() { curl -sS -u "$(id -un):" --key "$LIFEBOAT_SSH_KEY" --pubkey "$LIFEBOAT_SSH_KEY.pub" --hostpubsha256 "$SFTP_FP" "$@"; }
export -f s3_curl sftp_curl
floor() { # KEY PARALLEL COMMAND ({} is the object number): times it for every object
	local key=$1 par=$2 cmd=$3 t0
	t0=$(date +%s.%N)
	seq "$nobj" | xargs -P "$par" -I{} bash -c "$cmd"
	R[$key]=$(awk "BEGIN{printf \"%.2f\", $(date +%s.%N) - $t0}")
}
s3_curl -X PUT "$S3_HTTPS/floor-bucket" >/dev/null
floor floor.s3.write 4 's3_curl -T floor/o{} "$S3_HTTPS/floor-bucket/o{}" >/dev/null'
floor floor.s3.read 8 's3_curl -o /dev/null "$S3_HTTPS/floor-bucket/o{}"'
mkdir -p "$SFTP_DIR/floor"
floor floor.sftp.write 4 'sftp_curl -T floor/o{} "sftp://127.0.0.1:$SSH_PORT$SFTP_DIR/floor/o{}"'
floor floor.sftp.read 8 'sftp_curl -o /dev/null "sftp://127.0.0.1:$SSH_PORT$SFTP_DIR/floor/o{}"'
rm -rf floor "$url"

# Requests: one more initial sync and restore of each tool through a
# counting proxy in front of the server (speaking TLS to the client for S3).
count_requests() { # KEY UPSTREAM_PORT TLS COMMAND...: R[KEY] = requests the command made (PORT is the proxy's)
	local key=$1 up=$2 tls=$3 port pid; shift 3
	port=$(free_port)
	: >"$W/count.log"
	if [ "$tls" = tls ]; then
		python3 "$PROXY" "$port" "$up" --http --tls "$S3_CA" "$W/s3rver-key.pem" 2>"$W/count.log" &
	else
		python3 "$PROXY" "$port" "$up" --http 2>"$W/count.log" &
	fi
	pid=$!
	wait_port "$port"
	PORT=$port "$@" >/dev/null 2>&1 || echo "count: $key failed"
	kill "$pid"; wait "$pid" 2>/dev/null || true
	R[$key]=$(grep -c ' pass ' "$W/count.log")
}
s3_counted() { AWS_ENDPOINT_URL=https://127.0.0.1:$PORT "$@"; }
az_counted() { AZURE_STORAGE_CONNECTION_STRING=${AZURE_STORAGE_CONNECTION_STRING//:$AZ_PORT/:$PORT} "$@"; }
start_s3rver   # a second one, plain http, behind the TLS proxy
url=s3://lb-count/store
count_requests lifeboat.s3.req_init "$S3_PORT" tls s3_counted "$LB" store init "$url" --encrypt
count_requests lifeboat.s3.req_write "$S3_PORT" tls s3_counted "$LB" sync v1.orig --store "$url" --as vm/disk
count_requests lifeboat.s3.req_read "$S3_PORT" tls s3_counted "$LB" restore --store "$url" vm/disk count.img
rm -f count.img
repo=s3:https://127.0.0.1:PROXYPORT/restic-count/repo
restic_counted() { local r=${repo/PROXYPORT/$PORT}; AWS_ENDPOINT_URL=https://127.0.0.1:$PORT restic --cacert "$S3_CA" -r "$r" "$@"; }
rm -rf "$RESTIC_CACHE_DIR"
count_requests restic.s3.req_init "$S3_PORT" tls restic_counted init
count_requests restic.s3.req_write "$S3_PORT" tls restic_counted backup v1.orig
rm -rf "$RESTIC_CACHE_DIR" restic-out
count_requests restic.s3.req_read "$S3_PORT" tls restic_counted restore latest --target restic-out
rm -rf restic-out
url=az://lb-count/store
"$LB" store init "$url" --encrypt >/dev/null
count_requests lifeboat.azure.req_write "$AZ_PORT" plain az_counted "$LB" sync v1.orig --store "$url" --as vm/disk
count_requests lifeboat.azure.req_read "$AZ_PORT" plain az_counted "$LB" restore --store "$url" vm/disk count.img
rm -f count.img
gib=$(awk "BEGIN{print $img_bytes / 1073741824}")

per_gib() { awk "BEGIN{printf \"%.0f\", $1 / $gib}"; }
# run again on its own, it replaces its section of the file
python3 - "$OUT" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
text = re.sub(r"\n## Remote stores\n.*?(?=\n## |\Z)", "", text, flags=re.S)
open(sys.argv[1], "w").write(text)
PY
{
	echo
	echo "## Remote stores"
	echo
	echo "Generated by \`make bench\` (tests/bench/remote.sh) on $(date -u +%Y-%m-%d): the same $(awk "BEGIN{printf \"%.0f\", $img_bytes/1048576}") MiB image as above (\`genimage create IMG $SIZE 1\`, then 1% mutated), every tool in the same run, median of $RUNS interleaved rounds; servers on 127.0.0.1 started by the script: s3rver $(cat "$NPM_DIR/node_modules/s3rver/package.json" | python3 -c 'import json,sys; print(json.load(sys.stdin)["version"])') over https (both tools: restic's S3 client streams signed chunks that s3rver stores verbatim over http), Azurite $(cat "$NPM_DIR/node_modules/azurite/package.json" | python3 -c 'import json,sys; print(json.load(sys.stdin)["version"])') (on disk), OpenSSH $(ssh -V 2>&1 | cut -d, -f1 | cut -d_ -f2) with internal-sftp. restic $(restic version | cut -d' ' -f2) has no way to reach Azurite (its Azure client always builds https://ACCOUNT.blob.core.windows.net addresses), so Azure has no restic column. Both encrypted."
	echo
	echo "| store | phase | lifeboat s | restic s | lifeboat vs restic | lifeboat vs its folder store | server floor s | lifeboat peak RSS MiB |"
	echo "|---|---|---:|---:|---:|---:|---:|---:|"
	for b in local s3 azure sftp; do
		for ph in initial incr restore; do
			l=${R[lifeboat.$b.$ph.wall]}
			r=${R[restic.$b.$ph.wall]:--}
			vs=-; [ "$r" != - ] && vs="$(ratio "$r" "$l")× faster"
			base=$(ratio "$l" "${R[lifeboat.local.$ph.wall]}")
			fl=-
			[ "$ph" = initial ] && fl=${R[floor.$b.write]:--}
			[ "$ph" = restore ] && fl=${R[floor.$b.read]:--}
			echo "| $b | $ph | $l | $r | $vs | ${base}× the time | $fl | ${R[lifeboat.$b.$ph.rss]} |"
		done
	done
	echo
	echo "The server floor is what the server alone takes here for the bytes lifeboat's store holds ($(awk "BEGIN{printf \"%.0f\", $stored/1048576}") MiB, as $nobj objects of 16 MiB): curl putting them with 4 transfers in flight, and getting them with 8, no chunking, compression or encryption. The emulators and sshd share the machine's 2 cores with the client."
	echo
	echo "Requests per GiB of image, what object storage bills (one initial sync and one restore with a cold cache, counted by a proxy in front of the server): S3 lifeboat $(per_gib "${R[lifeboat.s3.req_write]}") to write and $(per_gib "${R[lifeboat.s3.req_read]}") to read, restic $(per_gib "${R[restic.s3.req_write]}") and $(per_gib "${R[restic.s3.req_read]}"); Azure lifeboat $(per_gib "${R[lifeboat.azure.req_write]}") and $(per_gib "${R[lifeboat.azure.req_read]}"). Creating the store: lifeboat ${R[lifeboat.s3.req_init]} requests, restic ${R[restic.s3.req_init]}."
	echo
	rssmax=$(for b in s3 azure sftp; do for ph in initial incr restore; do echo "${R[lifeboat.$b.$ph.rss]}"; done; done | sort -n | tail -1)
	echo "| target | measured | met |"
	echo "|---|---|---|"
	for b in s3 sftp; do
		for ph in initial incr restore; do
			speedup_row "$b $ph ≥ 2× faster than restic" "${R[lifeboat.$b.$ph.wall]}" "${R[restic.$b.$ph.wall]}" 2
		done
	done
	for b in s3 azure sftp; do
		for ph in initial incr restore; do
			x=$(ratio "${R[lifeboat.$b.$ph.wall]}" "${R[lifeboat.local.$ph.wall]}")
			echo "| $b $ph within 1.5× of the folder store | ${x}× (${R[lifeboat.$b.$ph.wall]} s vs ${R[lifeboat.local.$ph.wall]} s) | $(awk "BEGIN{print ($x <= 1.5) ? \"yes\" : \"no\"}") |"
		done
	done
	echo "| peak RSS < 128 MiB on remote stores | $rssmax MiB | $(awk "BEGIN{print ($rssmax < 128) ? \"yes\" : \"no\"}") |"
	if [ -f "$ROOT/tests/bench/remote-notes.md" ]; then echo; cat "$ROOT/tests/bench/remote-notes.md"; fi
} >>"$OUT"
tail -n 40 "$OUT"
trap - EXIT
stop_servers || true   # (set -e: a server already gone must not stop the cleanup)
cleanup_work
