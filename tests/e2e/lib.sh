# lib.sh — helpers for end-to-end tests. Each test sources this, runs
# commands in a fresh folder and reports TAP lines. The random seed is
# printed and can be replayed with LIFEBOAT_TEST_SEED=N.
set -u
PYTHON=/usr/bin/python3; [ -x "$PYTHON" ] || PYTHON=python3
LB_BIN=${LIFEBOAT_BIN:?run through tests/run.sh}
E2E_DIR=$(cd "$(dirname "$0")" && pwd)
GEN=${LIFEBOAT_TOOLS:?}/genimage
SEED=${LIFEBOAT_TEST_SEED:-$(( $(date +%s%N) % 100000 ))}
echo "# seed $SEED (replay with LIFEBOAT_TEST_SEED=$SEED)"
RANDOM=$SEED
T_N=0
WORK=$(mktemp -d /tmp/lifeboat-e2e.XXXXXX)
cleanup_work() { rm -rf "$WORK"; }
trap cleanup_work EXIT
cd "$WORK" || exit 1

lb() { ${LIFEBOAT_WRAP:-} "$LB_BIN" "$@"; }
# Processes a test kills must be started as "$LB_BIN" ... & so that $! is
# lifeboat itself, not a subshell running the lb function.

pass() { T_N=$((T_N + 1)); echo "ok $T_N - $1"; }
fail() { T_N=$((T_N + 1)); echo "not ok $T_N - $1"; shift; for l in "$@"; do printf '%s\n' "$l" | tail -n 40 | sed 's/^/#   /'; done; }

# check DESC COMMAND...: passes when the command succeeds.
check() {
	local desc=$1; shift
	local out
	if out=$("$@" 2>&1); then pass "$desc"; else fail "$desc" "command: $*" "${out:0:600}"; fi
}

# expect EXIT STDERR_GLOB DESC COMMAND...: exit code and a glob on stderr.
expect() {
	local code=$1 glob=$2 desc=$3; shift 3
	local err rc
	err=$("$@" 2>&1 >/dev/null); rc=$?
	# shellcheck disable=SC2053
	if [ "$rc" = "$code" ] && [[ "$err" == $glob ]]; then
		pass "$desc"
	else
		fail "$desc" "command: $*" "exit $rc (want $code), stderr: ${err:0:400}" "want stderr like: $glob"
	fi
}

# A digest of every file under a folder (names, sizes, content), to show a command changed nothing.
tree_digest() { (cd "$1" && find . -type f -print0 | sort -z | xargs -0 sha256sum 2>/dev/null | sha256sum); }

# is_sparse FILE: allocated bytes are fewer than the apparent size.
is_sparse() { [ "$(stat -c %b "$1")" -lt $(( $(stat -c %s "$1") / $(stat -c %B "$1") )) ]; }
