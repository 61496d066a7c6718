#!/usr/bin/env bash
# Runs the libFuzzer targets `make fuzz` built into $BUILD/fuzz/, one after
# the other, each for FUZZ_SECONDS from its seeds (tests/fuzz/corpus/NAME/;
# for yaml and plan both of theirs and tests/plans/) plus what earlier runs
# found ($BUILD/fuzz-work/NAME/corpus/). Prints per target the executions,
# coverage and corpus reached and what it found; a crash, a leak, a timeout
# or running out of memory leaves a reproducer in $BUILD/fuzz-work/NAME/ and
# makes this script fail.
#
#   tests/fuzz/run.sh [NAME...]       (default: every target built)
#   tests/fuzz/run.sh --crashes       reruns the reproducers in tests/fuzz/crashes/:
#                                     which still fail, which are fixed
#   $BUILD/fuzz/NAME FILE             reruns one input
set -u
cd "$(dirname "$0")/../.." || exit 2
BUILD=${BUILD:-build-fuzz}

if [ "${1:-}" = --crashes ]; then
	failing=0
	for f in tests/fuzz/crashes/*/*; do
		name=$(basename "$(dirname "$f")")
		[ -x "$BUILD/fuzz/$name" ] || continue
		if out=$("$BUILD/fuzz/$name" -timeout=10 "$f" 2>&1); then
			echo "fixed: $f"
		else
			failing=$((failing + 1))
			echo "fails: $f: $(grep -m1 -E '^SUMMARY|^fuzz: |ERROR: libFuzzer' <<<"$out")"
		fi
	done
	echo "fuzz: $failing reproducers still fail"
	[ "$failing" -eq 0 ]
	exit
fi
FUZZ_SECONDS=${FUZZ_SECONDS:-60}
# A normal input takes milliseconds; 10 s means stuck (e.g. exponential work).
FUZZ_OPTIONS=${FUZZ_OPTIONS:--timeout=10 -rss_limit_mb=2048}

names=("$@")
if [ ${#names[@]} -eq 0 ]; then
	for f in "$BUILD"/fuzz/*; do [ -x "$f" ] && [ -f "$f" ] && names+=("$(basename "$f")"); done
fi
[ ${#names[@]} -gt 0 ] || { echo "fuzz: no targets in $BUILD/fuzz (run 'make fuzz')"; exit 2; }

found=0
for name in "${names[@]}"; do
	bin=$BUILD/fuzz/$name
	work=$BUILD/fuzz-work/$name
	[ -x "$bin" ] || { echo "fuzz $name: $bin is missing"; found=$((found + 1)); continue; }
	mkdir -p "$work/corpus"
	rm -f "$work"/crash-* "$work"/leak-* "$work"/timeout-* "$work"/oom-*
	seeds=(tests/fuzz/corpus/"$name")
	case $name in yaml | plan) seeds=(tests/fuzz/corpus/yaml tests/fuzz/corpus/plan tests/plans) ;; esac
	# shellcheck disable=SC2086 # FUZZ_OPTIONS is a list of options
	"$bin" -max_total_time="$FUZZ_SECONDS" -print_final_stats=1 -artifact_prefix="$work/" $FUZZ_OPTIONS \
		"$work/corpus" "${seeds[@]}" >"$work/log" 2>&1
	rc=$?
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/log")
	speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$work/log")
	last=$(grep -E '^#[0-9]+' "$work/log" | tail -1)
	cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
	ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
	corp=$(sed -n 's/.* corp: \([^ ]*\).*/\1/p' <<<"$last")
	artifacts=$(ls "$work"/crash-* "$work"/leak-* "$work"/timeout-* "$work"/oom-* 2>/dev/null)
	printf 'fuzz %-9s %9s runs (%s/s), cov %s, ft %s, corpus %s: ' "$name" "${runs:-?}" "${speed:-?}" \
		"${cov:-?}" "${ft:-?}" "${corp:-?}"
	if [ "$rc" -eq 0 ] && [ -z "$artifacts" ]; then
		echo "nothing found"
		continue
	fi
	found=$((found + 1))
	echo "FOUND (exit $rc), log $work/log"
	grep -E '^(SUMMARY|==[0-9]+== ?ERROR|fuzz: )' "$work/log" | head -3 | sed 's/^/    /'
	for a in $artifacts; do echo "    reproducer: $a"; done
done
echo "fuzz: ${#names[@]} targets, $found found something"
[ "$found" -eq 0 ]
