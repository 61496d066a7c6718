# shellcheck shell=bash disable=SC2034 # (the counters are run.sh's)
# lib.sh — what the torture trials share: launching a command and killing
# it with SIGKILL at a random moment, digests of images and trees, the
# store checks every trial ends with, and the per-trial accounting.
# Sourced by run.sh, which sets LB, GEN, GENTREE, PYTHON and W.

# A random delay in milliseconds in [0, SPAN_MS].
random_ms() { echo $(( RANDOM * ($1 + 1) / 32768 )); }
ms_to_s() { printf '%d.%03d' $(($1 / 1000)) $(($1 % 1000)); }
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

# kill_after MS OUT COMMAND...: runs COMMAND (stdout to OUT, stderr to
# OUT.err), sends SIGKILL after MS milliseconds; sets RC (137 when killed).
kill_after() {
	local ms=$1 out=$2; shift 2
	"$@" >"$out" 2>"$out.err" &
	local pid=$!
	sleep "$(ms_to_s "$ms")"
	kill -9 "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	RC=$?
}

# timed_ms COMMAND...: runs it to the end; prints how long it took (ms),
# or fails with its output.
timed_ms() {
	local t0 rc
	t0=$(now_ms)
	"$@" >"$W/timed.out" 2>&1; rc=$?
	if [ "$rc" != 0 ]; then echo "setup failed ($rc): $*" >&2; cat "$W/timed.out" >&2; return 1; fi
	echo $(( $(now_ms) - t0 ))
}

file_digest() { sha256sum < "$1" | cut -c1-16; }
# names, types, modes, link targets and contents (not times: a sync reads them, a restore sets them)
tree_digest() {
	(cd "$1" && { find . -printf '%y %m %P -> %l\n' | LC_ALL=C sort
		find . -type f -print0 | LC_ALL=C sort -z | xargs -0 -r sha256sum; }) | sha256sum | cut -c1-16
}
digest() { if [ -d "$1" ]; then tree_digest "$1"; else file_digest "$1"; fi; }

# Point ids of MACHINE/DATASET in STORE, oldest first.
point_ids() { "$LB" points --store "$1" "$2" --json | grep -o '"id":"[0-9a-f]*"' | cut -d'"' -f4; }

# Problems of the current trial, each with its category (for the counts).
problem() { # CATEGORY TEXT
	PROBLEMS+=("$2")
	CATS[$KIND.$1]=$(( ${CATS[$KIND.$1]:-0} + 1 ))
}

# restore_matches STORE MD@ID WANT_DIGEST: the point restores bit-exact.
restore_matches() {
	local dest="$W/check.restore"
	rm -rf "$dest"
	if ! "$LB" restore --store "$1" "$2" "$dest" >"$W/restore.out" 2>&1; then
		problem restore "restore of $2 failed: $(tail -1 "$W/restore.out")"
	elif [ "$(digest "$dest")" != "$3" ]; then
		problem restore "$2 does not restore bit-exact"
	fi
	rm -rf "$dest"
}

# store_checks STORE PRUNE_ARGS...: verify --full passes on the store as the
# kill left it; then a prune (which must succeed) leaves nothing in tmp/.
store_checks() {
	local store=$1; shift
	if ! "$LB" verify --store "$store" --full >"$W/verify.out" 2>&1; then
		problem verify "verify --full: $(grep -v '^store' "$W/verify.out" | head -3 | tr '\n' ' ')"
	fi
	if ! "$LB" prune --store "$store" "$@" >"$W/prune.out" 2>&1; then
		problem prune "the next prune failed: $(tail -1 "$W/prune.out")"
	fi
	local left
	left=$(find "$store/tmp" -mindepth 1 2>/dev/null | wc -l)
	if [ "$left" != 0 ]; then
		problem tmp "$left file(s) left in tmp/ after the next prune ($(ls "$store/tmp" | head -2 | tr '\n' ' '))"
		# garbage by definition: gone, so that the next trial counts its own
		find "$store/tmp" -mindepth 1 -delete
	fi
}

# begin_trial / end_trial: one trial's accounting; end_trial prints what
# went wrong with the seed and kind that replay it.
begin_trial() { PROBLEMS=(); TRIAL=$1; }
end_trial() { # WHAT (how the kill went)
	if [ ${#PROBLEMS[@]} = 0 ]; then
		PASSED[$KIND]=$(( ${PASSED[$KIND]:-0} + 1 ))
	else
		FAILED[$KIND]=$(( ${FAILED[$KIND]:-0} + 1 ))
		echo "not ok - $KIND trial $TRIAL ($1; replay: TORTURE_SEED=$SEED KINDS=$KIND)"
		printf '#   %s\n' "${PROBLEMS[@]}"
	fi
	[ "$RC" = 137 ] && KILLED[$KIND]=$(( ${KILLED[$KIND]:-0} + 1 ))
}
