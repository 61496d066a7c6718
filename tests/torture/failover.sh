# shellcheck shell=bash disable=SC2034 # (the counters are run.sh's)
# failover.sh — kill -9 during a planned failover job, on the noop provider
# (machines on paper) and on the local provider (a real store, datasets
# restored to the recovery site, processes started there), then `resume`.
# Every action, stop and start command writes the id of its step to
# `effects` (start commands also "MACHINE PID" to `pids`): steps.py checks
# them against the journal as the kill left it. With local, the final
# points restore bit-exact, the recovery site holds the primary's data,
# verify --full passes and the next prune leaves nothing in tmp/.

# The plan's machines and groups: db in g1; web (depends on db) and, on
# paper only (a real one costs seconds per trial), api in g2. With local,
# db has an image and web a tree.
machines() { if [ "$1" = local ]; then echo db web; else echo db web api; fi; }
LABELS_NOOP="g1/before/1,g1/db/prepare/1,g1/after/1,g2/before/1,g2/web/prepare/1,g2/api/prepare/1,g2/after/1"
LABELS_LOCAL="g1/before/1,g1/db/prepare/1,g1/after/1,g2/before/1,g2/web/prepare/1,g2/after/1"
LABELS_LOCAL+=",shutdown/db/stop,shutdown/web/stop,g1/db/start,g2/web/start"
dataset_of() { if [ "$1" = db ]; then echo disk.img; else echo data; fi; }

# plan_yaml PROVIDER: the plan, with the store and sites for local.
plan_yaml() {
	local fx='${{ plan.dir }}/effects'
	echo "lifeboat: 1"
	echo "name: torture-$1"
	if [ "$1" = local ]; then
		cat <<-'YAML'
		store: ../replica
		sites:
		  primary: { provider: local, root: ../site-a }
		  recovery: { provider: local, root: site-b }
		YAML
	fi
	echo "machines:"
	local m g
	for m in $(machines "$1"); do
		g=g2; [ $m = db ] && g=g1
		echo "  $m:"
		[ $m = web ] && echo "    depends_on: [db]"
		echo "    prepare: [ { exec: \"echo $g/$m/prepare/1 >> $fx; sleep 0.02\" } ]"
		if [ "$1" = local ]; then
			if [ $m = db ]; then echo "    datasets: [ { name: disk, kind: image, path: disk.img } ]"
			else echo "    datasets: [ { name: data, kind: tree, path: data } ]"; fi
			echo "    stop: \"echo shutdown/$m/stop >> $fx\""
			echo "    start: [sh, -c, \"echo $m \$\$ >> \${{ plan.dir }}/pids; echo $g/$m/start >> $fx; exec sleep 600\"]"
			echo "    health: [ { exec: \"true\" } ]"
		fi
	done
	echo "groups:"
	for g in g1 g2; do
		echo "  - name: $g"
		[ $g = g1 ] && echo "    machines: [db]" || echo "    machines: [$(machines "$1" | cut -d' ' -f2- | sed 's/ /, /g')]"
		echo "    before: [ { exec: \"echo $g/before/1 >> $fx; sleep 0.02\" } ]"
		echo "    after: [ { exec: \"echo $g/after/1 >> $fx; sleep 0.02\" } ]"
	done
}

setup_failover() { # KIND
	local provider=${1#failover-} dir=$W/$1
	mkdir -p "$dir"
	if [ "$provider" = local ]; then
		STORE=$dir/replica
		mkdir -p "$dir/site-a/db" "$dir/site-a/web"
		"$GEN" create "$dir/site-a/db/disk.img" 1M "$SEED" >/dev/null
		"$GENTREE" create "$dir/site-a/web/data" 40 "$SEED" >/dev/null
	fi
	mkdir -p "$dir/calibrate"
	plan_yaml "$provider" > "$dir/calibrate/plan.yaml"
	if [ "$provider" = local ]; then
		"$LB" replicate "$dir/calibrate/plan.yaml" >"$W/setup.out" 2>&1 || { cat "$W/setup.out" >&2; return 1; }
	fi
	local ms fastest=999999 i
	for _ in 1 2; do # the faster of two
		rm -rf "$dir/calibrate/.lifeboat" "$dir/calibrate/site-b"
		reset_plan_state "$provider" || return 1
		ms=$(timed_ms "$LB" failover "$dir/calibrate/plan.yaml" --planned --yes) || return 1
		stop_started "$dir/calibrate"
		[ "$ms" -lt "$fastest" ] && fastest=$ms
	done
	KILL_SPAN=$(( fastest * 11 / 10 + 20 ))
}

# reset_plan_state PROVIDER: the store records where a plan runs (the
# fence); every trial's failover starts from a protected plan again.
reset_plan_state() {
	[ "$1" = local ] || return 0
	"$LB" store state torture-local --store "$STORE" --phase protected --active primary --source primary \
		--machines db,web >/dev/null
}

# stop_started DIR: stops the processes the trial's start commands started (by pid).
stop_started() {
	[ -f "$1/pids" ] || return 0
	local _m pid
	while read -r _m pid; do kill -9 "$pid" 2>/dev/null; done < "$1/pids"
}

trial_failover() { # N
	local provider=${KIND#failover-} dir=$W/$KIND/t$1
	mkdir -p "$dir"
	plan_yaml "$provider" > "$dir/plan.yaml"
	local ms
	reset_plan_state "$provider" || problem other "the plan's state could not be reset"
	ms=$(random_ms "$KILL_SPAN")
	kill_after "$ms" "$W/fo.out" "$LB" failover "$dir/plan.yaml" --planned --yes
	[ "$RC" = 0 ] || [ "$RC" = 137 ] || problem other "failover exited $RC: $(tail -1 "$W/fo.out")"
	local job journal before=-
	job=$(ls "$dir/.lifeboat/jobs" 2>/dev/null | head -1)
	if [ -n "$job" ]; then
		journal=$dir/.lifeboat/jobs/$job/journal.jsonl
		before=$dir/journal.at-kill
		cp "$journal" "$before"
		if ! "$LB" resume "$job" --yes --state "$dir/.lifeboat" >"$W/resume.out" 2>&1; then
			problem resume "resume failed: $(tail -1 "$W/resume.out")"
		fi
	else
		# killed before the job existed: nothing to resume, run it again
		NOJOB[$KIND]=$(( ${NOJOB[$KIND]:-0} + 1 ))
		"$LB" failover "$dir/plan.yaml" --planned --yes >"$W/resume.out" 2>&1 || problem resume "failover after a kill before the job failed: $(tail -1 "$W/resume.out")"
		job=$(ls "$dir/.lifeboat/jobs" 2>/dev/null | head -1)
		journal=$dir/.lifeboat/jobs/$job/journal.jsonl
	fi
	local labels=$LABELS_NOOP line
	[ "$provider" = local ] && labels=$LABELS_LOCAL
	while IFS= read -r line; do
		problem "${line%%:*}" "${line#*: }"
	done < <("$PYTHON" "$TORTURE/steps.py" "$before" "$journal" "$dir/effects" "$dir/pids" "$labels")
	if [ "$provider" = local ]; then local_checks "$dir" "$journal"; fi
	stop_started "$dir"
	[ ${#PROBLEMS[@]} = 0 ] && rm -rf "$dir"
	end_trial "kill at $(ms_to_s "$ms")s, $([ "$RC" = 137 ] && echo killed || echo "finished first")"
}

# local_checks DIR JOURNAL: the data made it, the store is sound.
local_checks() {
	local dir=$1 m ds
	for m in $(machines local); do
		ds=$(dataset_of $m)
		[ -e "$dir/site-b/$m/$ds" ] && [ "$(digest "$dir/site-b/$m/$ds")" = "$(digest "$W/$KIND/site-a/$m/$ds")" ] \
			|| problem restore "the recovery site's $m/$ds is not the primary's"
	done
	# the final points the journal reports done restore bit-exact
	local point
	while read -r m ds point; do
		restore_matches "$STORE" "$m/$ds@$point" "$(digest "$W/$KIND/site-a/$m/$(dataset_of $m)")"
	done < <("$PYTHON" -c '
import json, sys
for l in open(sys.argv[1]):
    try: e = json.loads(l)
    except ValueError: continue
    if e.get("ev") == "done" and e.get("step", "").startswith("final/"):
        for ds, r in (e.get("result") or {}).get("datasets", {}).items():
            print(e["step"].split("/")[1], ds, r.get("point"))' "$2")
	store_checks "$STORE" --keep-last 100000
}

finish_failover() {
	[ -n "${NOJOB[$KIND]:-}" ] && SWEPT[$KIND]="${NOJOB[$KIND]} kill(s) came before the job existed (the failover ran again)"
	return 0
}
