#!/usr/bin/env bash
# Runs every test: the C unit tests, the Lua tests (tests/lua/test_*.lua,
# run by `lifeboat run FILE WORKDIR`), then the end-to-end shell tests. Each
# prints TAP lines ("ok N - ..." / "not ok N - ..."); this script counts them
# and ends with one line: N passed, N failed.
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
export LIFEBOAT_BIN=${LIFEBOAT_BIN:-$PWD/$BUILD/lifeboat}
export LIFEBOAT_TOOLS=$PWD/$BUILD/tools
export LIFEBOAT_WRAP=${LIFEBOAT_WRAP:-}
ONLY=${ONLY:-.}   # a regex choosing tests by name
passed=0 failed=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT

run() { # name command...
	local name=$1 rc; shift
	printf '== %s\n' "$name"
	local t0=$SECONDS
	"$@" >"$log" 2>&1
	rc=$?
	local p f
	p=$(grep -c '^ok ' "$log")
	f=$(grep -c '^not ok ' "$log")
	grep -E '^(not ok|#)' "$log"
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		echo "not ok - $name exited $rc without a failing check:"; tail -n 20 "$log"
		f=1
	fi
	passed=$((passed + p)) failed=$((failed + f))
	printf '   %d passed, %d failed (%d s)\n' "$p" "$f" $((SECONDS - t0))
}

for t in "$BUILD"/tests/test_*; do
	[ -x "$t" ] && [[ $t =~ $ONLY ]] && run "unit $(basename "$t")" $LIFEBOAT_WRAP "$t"
done
for t in tests/lua/test_*.lua; do
	[[ $t =~ $ONLY ]] || continue
	wd=$(mktemp -d /tmp/lifeboat-lua.XXXXXX)
	run "lua $(basename "$t" .lua)" $LIFEBOAT_WRAP "$LIFEBOAT_BIN" run "$t" "$wd"
	rm -rf "$wd"
done
for t in tests/e2e/*.sh; do
	[[ $(basename "$t") == lib*.sh ]] && continue
	[[ $t =~ $ONLY ]] || continue
	run "e2e $(basename "$t" .sh)" bash "$t"
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
