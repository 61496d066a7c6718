# shellcheck shell=bash disable=SC2034 # (the counters are run.sh's)
# prune.sh — kill -9 during `prune`. Each trial first adds a point of each
# dataset (not killed; it leaves garbage behind), then prunes with a random
# policy and kills it. After: verify --full passes, each dataset's newest point is
# still there, every point the store lists restores bit-exact, and the
# next prune (the same policy) leaves nothing in tmp/ and exactly the
# points the policy keeps. Each trial restores the newest point of each
# dataset and one other; every point left is restored at the end.

setup_prune() {
	local dir=$W/prune
	mkdir -p "$dir"
	STORE=$dir/store
	"$LB" store init "$STORE" >/dev/null || return 1
	declare -gA KNOWN=()
	"$GEN" create "$dir/disk.img" 4M "$SEED" >/dev/null
	"$GENTREE" create "$dir/tree" 150 "$SEED" >/dev/null
	local i
	local ms fastest=999999 i
	for i in 1 2 3; do add_points "$i" || return 1; done
	for i in 4 5 6; do # the fastest of three prunes as a trial runs them (one point's garbage each)
		add_points "$i" || return 1
		ms=$(timed_ms "$LB" prune --store "$STORE" --keep-last 3) || return 1
		[ "$ms" -lt "$fastest" ] && fastest=$ms
	done
	KILL_SPAN=$(( fastest * 7 / 10 + 10 )) # a trial's prune is often faster (it may forget nothing)
}

# add_points N: one new point of the image (a quarter of it rewritten:
# garbage for prune) and one of the tree, their digests remembered.
add_points() {
	local dir=$W/prune
	"$GEN" mutate "$dir/disk.img" 25 $((SEED + $1)) >/dev/null
	"$GENTREE" touch "$dir/tree" 20 $((SEED + $1)) >/dev/null
	"$LB" sync "$dir/disk.img" --store "$STORE" --as m/disk >/dev/null 2>&1 || return 1
	KNOWN[$(point_ids "$STORE" m/disk | tail -1)]=$(digest "$dir/disk.img")
	"$LB" sync "$dir/tree" --store "$STORE" --as m/tree >/dev/null 2>&1 || return 1
	KNOWN[$(point_ids "$STORE" m/tree | tail -1)]=$(digest "$dir/tree")
}

trial_prune() { # N
	local n=$1
	add_points $((100 + n)) || problem other "a sync before the prune failed"
	local keep=$(( 1 + RANDOM % 3 )) ms ds
	local -A newest=() want=()
	for ds in disk tree; do
		local all
		all=$(point_ids "$STORE" m/$ds)
		newest[$ds]=$(tail -1 <<< "$all")
		want[$ds]=$(wc -l <<< "$all"); [ "${want[$ds]}" -gt "$keep" ] && want[$ds]=$keep
	done
	ms=$(random_ms "$KILL_SPAN")
	kill_after "$ms" "$W/prune.out" "$LB" prune --store "$STORE" --keep-last "$keep"
	[ "$RC" = 0 ] || [ "$RC" = 137 ] || problem other "prune exited $RC: $(tail -1 "$W/prune.out.err")"
	local id ids
	for ds in disk tree; do
		mapfile -t ids < <(point_ids "$STORE" m/$ds)
		[[ " ${ids[*]} " == *" ${newest[$ds]} "* ]] || problem restore "the newest point of m/$ds is gone"
		for id in "${ids[@]}"; do
			[ -n "${KNOWN[$id]:-}" ] || problem restore "m/$ds@$id: a point nobody made"
		done
		# the newest and one other restore bit-exact (all of them at the end)
		for id in "${newest[$ds]}" "${ids[$((RANDOM % ${#ids[@]}))]}"; do
			[ -n "${KNOWN[$id]:-}" ] && restore_matches "$STORE" "m/$ds@$id" "${KNOWN[$id]}"
		done
	done
	store_checks "$STORE" --keep-last "$keep" # verify --full as the kill left it, then the next prune
	for ds in disk tree; do
		local count
		count=$(point_ids "$STORE" m/$ds | wc -l)
		[ "$count" = "${want[$ds]}" ] || problem prune "m/$ds keeps $count points after the next prune, not ${want[$ds]}"
	done
	end_trial "keep-last $keep, kill at $(ms_to_s "$ms")s, $([ "$RC" = 137 ] && echo killed || echo "finished first")"
}

# Every point the store still lists, restored.
finish_prune() {
	begin_trial "final sweep"
	RC=0
	local ds id n=0
	for ds in disk tree; do
		for id in $(point_ids "$STORE" m/$ds); do restore_matches "$STORE" "m/$ds@$id" "${KNOWN[$id]}"; n=$((n + 1)); done
	done
	SWEPT[$KIND]="$n points restored at the end, $([ ${#PROBLEMS[@]} = 0 ] && echo "all bit-exact" || echo "NOT all bit-exact")"
	end_trial "every point restored again"
}
