# shellcheck shell=bash disable=SC2034 # (the counters are run.sh's)
# restore.sh — kill -9 during `restore` of an image or a tree point, to a
# new destination or in place (--delta) onto a copy of another point.
# After: the destination is absent or bit-exact (a new one is written
# beside it and renamed), restoring again completes bit-exact, verify
# --full passes and the next prune leaves nothing in tmp/. What a killed
# restore leaves beside its destination is counted (a note, not a failure).

setup_restore() {
	local dir=$W/restore
	mkdir -p "$dir"
	STORE=$dir/store
	"$LB" store init "$STORE" >/dev/null || return 1
	declare -gA KNOWN=()
	"$GEN" create "$dir/disk.img" 4M "$SEED" >/dev/null
	"$GENTREE" create "$dir/tree" 200 "$SEED" >/dev/null
	local i
	for i in 1 2 3; do
		"$GEN" mutate "$dir/disk.img" 20 $((SEED + i)) >/dev/null
		"$GENTREE" touch "$dir/tree" 20 $((SEED + i)) >/dev/null
		"$LB" sync "$dir/disk.img" --store "$STORE" --as m/disk >/dev/null 2>&1 || return 1
		KNOWN[$(point_ids "$STORE" m/disk | tail -1)]=$(digest "$dir/disk.img")
		"$LB" sync "$dir/tree" --store "$STORE" --as m/tree >/dev/null 2>&1 || return 1
		KNOWN[$(point_ids "$STORE" m/tree | tail -1)]=$(digest "$dir/tree")
	done
	local ms fastest=999999 ds
	for i in 1 2; do
		for ds in disk tree; do
			ms=$(timed_ms "$LB" restore --store "$STORE" m/$ds "$dir/t.$ds") || return 1
			rm -rf "$dir/t.$ds"
			[ "$i" = 2 ] && [ "$ms" -lt "$fastest" ] && fastest=$ms # the second round: caches warm
		done
	done
	KILL_SPAN=$(( fastest * 9 / 10 + 10 )) # starting the killer takes a while too
}

trial_restore() { # N
	local ds=disk; [ $((RANDOM % 2)) = 0 ] && ds=tree
	local ids
	mapfile -t ids < <(point_ids "$STORE" m/$ds)
	local id=${ids[$((RANDOM % ${#ids[@]}))]} other=${ids[$((RANDOM % ${#ids[@]}))]}
	local box=$W/restore/t$1 mode=new
	mkdir -p "$box"
	local dest=$box/dest
	if [ $((RANDOM % 2)) = 0 ]; then
		mode="delta"
		"$LB" restore --store "$STORE" "m/$ds@$other" "$dest" >/dev/null 2>&1 || problem other "restore of a copy to update failed"
	fi
	local ms
	ms=$(random_ms "$KILL_SPAN")
	if [ $mode = delta ]; then
		kill_after "$ms" "$W/restore.out" "$LB" restore --store "$STORE" "m/$ds@$id" "$dest" --delta
	else
		kill_after "$ms" "$W/restore.out" "$LB" restore --store "$STORE" "m/$ds@$id" "$dest"
	fi
	[ "$RC" = 0 ] || [ "$RC" = 137 ] || problem other "restore exited $RC: $(tail -1 "$W/restore.out.err")"
	if [ $mode = new ] && [ -e "$dest" ] && [ "$(digest "$dest")" != "${KNOWN[$id]}" ]; then
		problem restore "a half-written restore under the destination's name"
	fi
	# again, to the end
	local again=(--delta); [ -e "$dest" ] || again=()
	if ! "$LB" restore --store "$STORE" "m/$ds@$id" "$dest" "${again[@]}" >"$W/restore.out" 2>&1; then
		problem restore "restoring again failed: $(tail -1 "$W/restore.out")"
	elif [ "$(digest "$dest")" != "${KNOWN[$id]}" ]; then
		problem restore "restoring again is not bit-exact"
	fi
	local left
	left=$(find "$box" -mindepth 1 -maxdepth 1 ! -name dest | wc -l)
	[ "$left" = 0 ] || NOTES[$KIND]=$(( ${NOTES[$KIND]:-0} + 1 ))
	rm -rf "$box"
	store_checks "$STORE" --keep-last 100000
	end_trial "$ds to a $([ $mode = new ] && echo "new destination" || echo "copy, --delta"), kill at $(ms_to_s "$ms")s, $([ "$RC" = 137 ] && echo killed || echo "finished first")"
}

finish_restore() {
	[ -n "${NOTES[$KIND]:-}" ] && SWEPT[$KIND]="${NOTES[$KIND]} killed restore(s) left files beside the destination"
	return 0
}
