# shellcheck shell=bash disable=SC2034 # (the counters are run.sh's)
# sync.sh — kill -9 during `sync` of an image and of a tree. After each
# kill: verify --full passes, a point the sync reported (or that appeared
# without being reported) restores bit-exact, and the next prune leaves
# nothing in tmp/. Every reported point is restored again at the end.

# setup_sync KIND SOURCE: a store with a first point of SOURCE; KILL_SPAN
# is about how long one incremental sync takes.
setup_sync() {
	local dir=$W/$1
	mkdir -p "$dir"
	"$LB" store init "$dir/store" >/dev/null || return 1
	declare -gA KNOWN=()   # point id -> digest of what was synced
	mutate_source "$1" 0
	"$LB" sync "$SRC" --store "$dir/store" --as m/data >/dev/null 2>&1 || return 1
	KNOWN[$(point_ids "$dir/store" m/data | tail -1)]=$(digest "$SRC")
	local ms fastest=999999 i
	for i in 1 2 3; do # the fastest of three incremental syncs
		mutate_source "$1" $((1000 + i))
		ms=$(timed_ms "$LB" sync "$SRC" --store "$dir/store" --as m/data) || return 1
		KNOWN[$(point_ids "$dir/store" m/data | tail -1)]=$(digest "$SRC")
		[ "$ms" -lt "$fastest" ] && fastest=$ms
	done
	KILL_SPAN=$(( fastest * 12 / 10 + 20 ))
	STORE=$dir/store
}

# mutate_source KIND N: the source as of trial N (created at N = 0).
mutate_source() {
	if [ "$1" = sync-image ]; then
		SRC=$W/$1/disk.img
		if [ "$2" = 0 ]; then "$GEN" create "$SRC" 4M "$SEED" >/dev/null
		else "$GEN" mutate "$SRC" 5 $((SEED + $2)) >/dev/null; fi
	else
		SRC=$W/$1/tree
		if [ "$2" = 0 ]; then "$GENTREE" create "$SRC" 200 "$SEED" >/dev/null
		else "$GENTREE" touch "$SRC" 10 $((SEED + $2)) >/dev/null; fi
	fi
}

trial_sync() { # N
	mutate_source "$KIND" $(($1 + 1))
	local want ms before
	want=$(digest "$SRC")
	before=$(point_ids "$STORE" m/data)
	ms=$(random_ms "$KILL_SPAN")
	kill_after "$ms" "$W/sync.out" "$LB" sync "$SRC" --store "$STORE" --as m/data --json
	local reported=""
	if [ "$RC" = 0 ]; then
		reported=$("$PYTHON" -c 'import json,sys; print(json.load(open(sys.argv[1]))["point"])' "$W/sync.out")
	elif [ "$RC" != 137 ]; then
		problem other "sync exited $RC: $(tail -1 "$W/sync.out.err")"
	fi
	store_checks "$STORE" --keep-last 100000
	# a point that appeared is this sync's, complete (reported or not)
	local id
	for id in $(point_ids "$STORE" m/data); do
		[[ $before == *"$id"* ]] && continue
		restore_matches "$STORE" "m/data@$id" "$want"
		KNOWN[$id]=$want
	done
	if [ -n "$reported" ] && [ -z "${KNOWN[$reported]:-}" ]; then
		problem restore "sync reported point $reported, which the store does not list"
	fi
	# and an earlier one still restores
	local ids=("${!KNOWN[@]}")
	id=${ids[$((RANDOM % ${#ids[@]}))]}
	restore_matches "$STORE" "m/data@$id" "${KNOWN[$id]}"
	end_trial "kill at $(ms_to_s "$ms")s, $([ "$RC" = 137 ] && echo killed || echo "finished first")"
}

# Every point ever reported or seen, restored once more.
finish_sync() {
	begin_trial "final sweep"
	RC=0
	local id
	for id in "${!KNOWN[@]}"; do restore_matches "$STORE" "m/data@$id" "${KNOWN[$id]}"; done
	"$LB" verify --store "$STORE" --full >/dev/null 2>&1 || problem verify "verify --full fails at the end"
	SWEPT[$KIND]="${#KNOWN[@]} points restored at the end, $([ ${#PROBLEMS[@]} = 0 ] && echo "all bit-exact" || echo "NOT all bit-exact")"
	end_trial "every point restored again"
}
