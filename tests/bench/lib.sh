# lib.sh — what the benchmark scripts share: the peers' settings, timing of
# one command (wall, CPU, peak RSS) into R[KEY.*], medians, ratios. Source it
# after setting W (the scratch folder) and cd-ing into it.
export RESTIC_PASSWORD=bench-password BORG_PASSPHRASE=bench-password
export BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK=yes BORG_RELOCATED_REPO_ACCESS_IS_OK=yes
export BORG_BASE_DIR=$W/borg-home RESTIC_CACHE_DIR=$W/restic-cache

declare -A R
# measure KEY command...: appends wall s, CPU s and peak RSS MiB to R[KEY.wall|cpu|rss]
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
# sizes PATH: bytes under PATH; warm FILE...: flush dirty pages, then read FILE into the cache; mib N: N bytes in MiB
sizes() { du -sb "$1" | cut -f1; }
warm() { sync; cat "$@" > /dev/null; }
mib() { awk "BEGIN{printf \"%.0f\", $1/1048576}"; }
median() { printf '%s\n' $1 | sort -g | awk '{v[NR]=$1} END{print v[int((NR+1)/2)]}'; }
medians() { local k; for k in "${!R[@]}"; do R[$k]=$(median "${R[$k]}"); done; }
ratio() { awk "BEGIN{ if ($2 > 0) printf \"%.2f\", $1/$2; else print \"-\" }"; }
min_of() { printf '%s\n' "$@" | sort -g | head -1; }
# speedup_row TARGET OURS THEIRS MIN [NOTE]: a table row judging THEIRS/OURS >= MIN
speedup_row() {
	local x; x=$(ratio "$3" "$2")
	echo "| $1 | ${x}× ($2 s vs $3 s)${5:+, $5} | $(awk "BEGIN{print ($x >= $4) ? \"yes\" : \"no\"}") |"
}
# rto_split REPORT: "RTO restore prepare start health other overhead" of a
# failover's report.json: the steps' own work up to the RTO, by kind, and
# the engine's overhead (the RTO minus that work)
rto_split() {
	/usr/bin/python3 - "$1" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
end = r["started"] + r["rto"]
work = {"restore": 0, "prepare": 0, "start": 0, "health": 0, "other": 0}
for s in r["steps"]:
    if not s.get("started") or s["started"] > end: continue
    k = s.get("kind")
    k = k if k in work else ("prepare" if "/prepare/" in s["id"] else "other")
    work[k] += s.get("secs", 0)
print(r["rto"], work["restore"], work["prepare"], work["start"], work["health"], work["other"], r["rto"] - sum(work.values()))
PY
}
