#!/usr/bin/env bash
# Crash torture (`make torture`, not part of `make test`): TRIALS (default
# 50) kill -9 trials at random moments in each of sync of an image, sync of
# a tree, prune, restore, and a planned failover job on the noop and on the
# local provider; after each, the checks of sync.sh, prune.sh, restore.sh
# and failover.sh. Prints the seed (TORTURE_SEED=N replays the same kill
# moments and data; KINDS="..." runs only some kinds), one line per kind
# with its counts, and a closing "N passed, N failed" (trials, plus the
# final sweeps of the sync and prune kinds). Exit 1 if any failed.
set -u
cd "$(dirname "$0")/../.." || exit 1
BUILD=${BUILD:-build}
LB=${LIFEBOAT_BIN:-$PWD/$BUILD/lifeboat}
GEN=$PWD/$BUILD/tools/genimage
GENTREE=$PWD/$BUILD/tools/gentree
TORTURE=$PWD/tests/torture
PYTHON=/usr/bin/python3; [ -x "$PYTHON" ] || PYTHON=python3
TRIALS=${TRIALS:-50}
KINDS=${KINDS:-sync-image sync-tree prune restore failover-noop failover-local}
SEED=${TORTURE_SEED:-$(( $(date +%s%N) % 100000 ))}
for f in "$LB" "$GEN" "$GENTREE"; do [ -x "$f" ] || { echo "torture: $f is missing (make lifeboat tools)"; exit 2; }; done

# shellcheck source=/dev/null
. "$TORTURE/lib.sh"; . "$TORTURE/sync.sh"; . "$TORTURE/prune.sh"; . "$TORTURE/restore.sh"; . "$TORTURE/failover.sh"

# in memory when it can be (TORTURE_DIR elsewhere): a kill -9 tests what a
# process leaves behind, not what a disk keeps after a power cut
base=${TORTURE_DIR:-/dev/shm}
[ -d "$base" ] && [ -w "$base" ] || base=/tmp
W=$(mktemp -d "$base/lifeboat-torture.XXXXXX")
trap 'rm -rf "$W"' EXIT
# shellcheck disable=SC2034 # NOTES and NOJOB are the kinds' counters
declare -A PASSED=() FAILED=() KILLED=() CATS=() SWEPT=() NOTES=() NOJOB=()
echo "# seed $SEED (replay with TORTURE_SEED=$SEED; the kill moments are the same, the timing of what they hit varies)"
echo "# $TRIALS trials per kind: $KINDS"

for KIND in $KINDS; do
	case $KIND in
		sync-image|sync-tree) family=sync ;;
		prune|restore) family=$KIND ;;
		failover-noop|failover-local) family=failover ;;
		*) echo "torture: unknown kind '$KIND'"; exit 2 ;;
	esac
	# each kind has its own random sequence, so KINDS=one replays it alone
	RANDOM=$(( SEED + $(printf %s "$KIND" | cksum | cut -d' ' -f1) % 10000 ))
	t0=$(date +%s)
	if ! "setup_$family" "$KIND"; then
		echo "not ok - $KIND: setup failed"; FAILED[$KIND]=1; continue
	fi
	for ((n = 1; n <= TRIALS; n++)); do
		begin_trial "$n"
		"trial_$family" "$n"
	done
	"finish_$family"
	secs=$(( $(date +%s) - t0 ))
	cats=""
	for k in "${!CATS[@]}"; do [[ $k == "$KIND".* ]] && cats+=" ${k#*.} ${CATS[$k]},"; done
	printf '%-15s %3d trials%s (%d killed mid-run, %d finished first) in %3ds: %d passed, %d failed%s%s\n' \
		"$KIND" "$TRIALS" "$([ $family = sync ] || [ $family = prune ] && echo " + final sweep")" \
		"${KILLED[$KIND]:-0}" $(( TRIALS - ${KILLED[$KIND]:-0} )) "$secs" \
		"${PASSED[$KIND]:-0}" "${FAILED[$KIND]:-0}" "${cats:+; problems:${cats%,}}" "${SWEPT[$KIND]:+; ${SWEPT[$KIND]}}"
done

passed=0 failed=0
for KIND in $KINDS; do passed=$(( passed + ${PASSED[$KIND]:-0} )); failed=$(( failed + ${FAILED[$KIND]:-0} )); done
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
