#!/usr/bin/env bash
# make bench: lifeboat against restic, borg, casync and rsync, in one run,
# on the same generated image, with a warm page cache. Measures initial
# sync, incremental sync after a 1% mutation, and restore of the second
# point: wall time, CPU time, peak RSS, bytes added to the store. Every
# tool runs BENCH_RUNS rounds, interleaved (round 1 of each tool, then round
# 2...), and the table shows the median of each figure. Writes the table to
# docs/benchmarks.md.
#
#   BENCH_SIZE=2G (image size)   BENCH_RUNS=3   BENCH_DIR=bench-work (scratch, ~4x the size)
set -eu
cd "$(dirname "$0")/../.."
ROOT=$PWD
BUILD=${BUILD:-build}
LB=$ROOT/$BUILD/lifeboat
GEN=$ROOT/$BUILD/tools/genimage
SIZE=${BENCH_SIZE:-2G}
RUNS=${BENCH_RUNS:-3}
W=${BENCH_DIR:-$ROOT/bench-work}
OUT=$ROOT/docs/benchmarks.md
rm -rf "$W"; mkdir -p "$W"; cd "$W"

export RESTIC_PASSWORD=bench-password BORG_PASSPHRASE=bench-password
export BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK=yes BORG_RELOCATED_REPO_ACCESS_IS_OK=yes
export BORG_BASE_DIR=$W/borg-home RESTIC_CACHE_DIR=$W/restic-cache

echo "generating a $SIZE image (seed 1) and its 1% mutation (seed 2)"
"$GEN" create v1.img "$SIZE" 1
cp --sparse=always v1.img v2.img
changed=$("$GEN" mutate v2.img 1 2)
img_bytes=$(stat -c %s v1.img)
sizes() { du -sb "$1" | cut -f1; }
# Flush dirty pages of the previous phase, then read the input into the cache.
warm() { sync; cat "$@" > /dev/null; }

declare -A R
# measure KEY command...: wall s, cpu s, peak RSS MiB
measure() {
	sync
	local key=$1; shift
	/usr/bin/time -f '%e %U %S %M' -o "$W/time.out" "$@" >"$W/cmd.out" 2>"$W/cmd.err" || {
		echo "FAILED: $*"; cat "$W/cmd.err"; exit 1; }
	read -r wall user sys rss < "$W/time.out"
	local cpu; cpu=$(awk "BEGIN{printf \"%.2f\", $user+$sys}")
	R[$key.wall]+=" $wall" R[$key.cpu]+=" $cpu" R[$key.rss]+=" $((rss / 1024))"
	printf '  %-22s %6.2fs wall %6.2fs cpu %5d MiB rss\n' "$key" "$wall" "$cpu" "$((rss / 1024))"
}
added() { R[$1.added]+=" $(( $3 - $2 ))"; }
median() { printf '%s\n' $1 | sort -g | awk '{v[NR]=$1} END{print v[int((NR+1)/2)]}'; }

bench_lifeboat() {
rm -rf lb-store lb.key
"$LB" store init lb-store --encrypt --key-file lb.key >/dev/null
export LIFEBOAT_KEY_FILE=$W/lb.key
warm v1.img; measure lifeboat.initial "$LB" sync v1.img --store lb-store --as vm/disk
s1=$(sizes lb-store); added lifeboat.initial 0 "$s1"
warm v2.img; measure lifeboat.incr "$LB" sync v2.img --store lb-store --as vm/disk
added lifeboat.incr "$s1" "$(sizes lb-store)"
measure lifeboat.restore "$LB" restore --store lb-store vm/disk lb-out.img
cmp v2.img lb-out.img
lb_alloc=$(( $(stat -c %b lb-out.img) * $(stat -c %B lb-out.img) ))
rm -f lb-out.img
}

bench_restic() {
rm -rf restic-repo restic-cache
restic init -r restic-repo >/dev/null
warm v1.img; measure restic.initial restic -r restic-repo backup v1.img
s1=$(sizes restic-repo); added restic.initial 0 "$s1"
cp --sparse=always v2.img v1.img.new && mv v1.img.new v1.img   # same path, so restic sees a change to one file
warm v1.img; measure restic.incr restic -r restic-repo backup v1.img
added restic.incr "$s1" "$(sizes restic-repo)"
mkdir -p restic-out
measure restic.restore restic -r restic-repo restore latest --target restic-out
cmp v2.img restic-out/v1.img
restic_alloc=$(( $(stat -c %b restic-out/v1.img) * $(stat -c %B restic-out/v1.img) ))
rm -rf restic-out
cp --sparse=always v1.orig v1.img
}

bench_borg() {
rm -rf borg-repo borg-home
borg init --encryption=repokey borg-repo 2>/dev/null
warm v1.img; measure borg.initial borg create --compression zstd,1 borg-repo::a1 v1.img
s1=$(sizes borg-repo); added borg.initial 0 "$s1"
cp --sparse=always v2.img v1.img.new && mv v1.img.new v1.img
warm v1.img; measure borg.incr borg create --compression zstd,1 borg-repo::a2 v1.img
added borg.incr "$s1" "$(sizes borg-repo)"
mkdir -p borg-out
measure borg.restore sh -c "cd borg-out && borg extract --sparse ../borg-repo::a2"
cmp v2.img borg-out/v1.img
borg_alloc=$(( $(stat -c %b borg-out/v1.img) * $(stat -c %B borg-out/v1.img) ))
rm -rf borg-out
cp --sparse=always v1.orig v1.img
}

bench_casync() {
rm -rf casync-store a1.caibx a2.caibx
mkdir -p casync-store
warm v1.img; measure casync.initial casync make --store=casync-store a1.caibx v1.img
s1=$(sizes casync-store); added casync.initial 0 "$s1"
warm v2.img; measure casync.incr casync make --store=casync-store a2.caibx v2.img
added casync.incr "$s1" "$(sizes casync-store)"
measure casync.restore casync extract --store=casync-store a2.caibx casync-out.img
cmp v2.img casync-out.img
casync_alloc=$(( $(stat -c %b casync-out.img) * $(stat -c %B casync-out.img) ))
rm -f casync-out.img
}

bench_rsync() {
rm -rf rsync-dst
mkdir -p rsync-dst
warm v1.img; measure rsync.initial rsync -a --sparse v1.img rsync-dst/disk.img
added rsync.initial 0 "$(sizes rsync-dst)"
cp --sparse=always v2.img v1.img.new && mv v1.img.new v1.img
warm v1.img rsync-dst/disk.img; measure rsync.incr rsync -a --inplace --no-whole-file v1.img rsync-dst/disk.img
added rsync.incr 0 0
cmp v2.img rsync-dst/disk.img
cp --sparse=always v1.orig v1.img
}

cp --sparse=always v1.img v1.orig
for round in $(seq "$RUNS"); do
	echo "round $round of $RUNS"
	for tool in lifeboat restic borg casync rsync; do "bench_$tool"; done
done
# medians
for k in "${!R[@]}"; do R[$k]=$(median "${R[$k]}"); done

mib() { awk "BEGIN{printf \"%.0f\", $1/1048576}"; }
ratio() { awk "BEGIN{ if ($2 > 0) printf \"%.2f\", $1/$2; else print \"-\" }"; }
min_of() { printf '%s\n' "$@" | sort -g | head -1; }
best_init=$(min_of "${R[restic.initial.wall]}" "${R[borg.initial.wall]}" "${R[casync.initial.wall]}")
best_rest=$(min_of "${R[restic.restore.wall]}" "${R[borg.restore.wall]}" "${R[casync.restore.wall]}")

{
	echo "# Benchmarks"
	echo
	echo "Generated by \`make bench\` on $(date -u +%Y-%m-%d) ($(nproc) cores, $(awk '/MemTotal/{printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -r)); warm page cache, every tool on the same files in the same run; each figure is the median of $RUNS interleaved rounds."
	echo
	echo "Data: a $(mib "$img_bytes") MiB image from \`genimage create IMG $SIZE 1\` (1 MiB extents: ~25% zero, left as holes; ~40% log-like text; ~35% random), then \`genimage mutate IMG 1 2\`: $(mib "$changed") MiB rewritten in random 4 KiB-aligned writes."
	echo
	echo "Settings: lifeboat encrypted (AES-256-GCM, HMAC-SHA-256 ids, zstd 1, 16 KiB blocks); restic $(restic version | cut -d' ' -f2) (encrypted, compression auto); borg $(borg --version | cut -d' ' -f2) (repokey, zstd,1); casync $(casync --version | head -1 | awk '{print $2}') (default); rsync $(rsync --version | head -1 | awk '{print $3}'), \`--inplace --no-whole-file\` onto the previous copy."
	echo
	echo "| tool | phase | wall s | CPU s | peak RSS MiB | added to store MiB |"
	echo "|---|---|---:|---:|---:|---:|"
	for t in lifeboat restic borg casync rsync; do
		for ph in initial incr restore; do
			[ -n "${R[$t.$ph.wall]:-}" ] || continue
			added_col=-
			[ -n "${R[$t.$ph.added]:-}" ] && added_col=$(mib "${R[$t.$ph.added]}")
			echo "| $t | $ph | ${R[$t.$ph.wall]} | ${R[$t.$ph.cpu]} | ${R[$t.$ph.rss]} | $added_col |"
		done
	done
	echo
	echo "Restored image allocation (sparse when below the $(mib "$img_bytes") MiB size): lifeboat $(mib $lb_alloc) MiB, restic $(mib $restic_alloc) MiB, borg $(mib $borg_alloc) MiB, casync $(mib $casync_alloc) MiB."
	echo
	echo "## Against the targets"
	echo
	echo "| target | measured | met |"
	echo "|---|---|---|"
	x=$(ratio "$best_init" "${R[lifeboat.initial.wall]}")
	echo "| initial sync ≥ 3× faster than the fastest of restic, borg, casync | ${x}× (${R[lifeboat.initial.wall]} s vs $best_init s) | $(awk "BEGIN{print ($x >= 3) ? \"yes\" : \"no\"}") |"
	x=$(ratio "${R[rsync.incr.wall]}" "${R[lifeboat.incr.wall]}")
	echo "| incremental ≥ 5× faster than rsync --inplace --no-whole-file | ${x}× (${R[lifeboat.incr.wall]} s vs ${R[rsync.incr.wall]} s) | $(awk "BEGIN{print ($x >= 5) ? \"yes\" : \"no\"}") |"
	x=$(ratio "${R[lifeboat.incr.added]}" "$changed")
	echo "| bytes added ≤ 2.5× bytes changed | ${x}× ($(mib "${R[lifeboat.incr.added]}") MiB for $(mib "$changed") MiB) | $(awk "BEGIN{print ($x <= 2.5) ? \"yes\" : \"no\"}") |"
	x=$(ratio "$best_rest" "${R[lifeboat.restore.wall]}")
	echo "| restore ≥ 2× faster than the fastest peer, sparse | ${x}× (${R[lifeboat.restore.wall]} s vs $best_rest s), $(mib $lb_alloc) MiB allocated | $(awk "BEGIN{print ($x >= 2) ? \"yes\" : \"no\"}") |"
	rss=$(printf '%s\n' "${R[lifeboat.initial.rss]}" "${R[lifeboat.incr.rss]}" "${R[lifeboat.restore.rss]}" | sort -n | tail -1)
	echo "| peak RSS < 64 MiB | $rss MiB | $(awk "BEGIN{print ($rss < 64) ? \"yes\" : \"no\"}") |"
} > "$OUT.new"
if [ -f "$ROOT/tests/bench/notes.md" ]; then { echo; cat "$ROOT/tests/bench/notes.md"; } >> "$OUT.new"; fi
mv "$OUT.new" "$OUT"
echo
cat "$OUT"
cd "$ROOT"; rm -rf "$W"
