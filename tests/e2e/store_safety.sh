#!/usr/bin/env bash
# Forged points are refused as damage before they can ask for memory or
# make a number conversion undefined, and every folder a store gets is
# made durable (its parent fsynced) before anything is published in it.
. "$(dirname "$0")/lib.sh"

# forge STORE MACHINE DATASET JSON: writes a point object the way a plain
# store seals one (envelope LBPOINT1, id = SHA-256 of the JSON, flags 0).
forge() {
	"$PYTHON" - "$@" <<'PY'
import hashlib, os, struct, sys
store, machine, dataset, text = sys.argv[1:5]
body = text.encode()
pid = hashlib.sha256(body).digest()
env = b"LBPOINT1" + pid + struct.pack("<I", len(body)) + b"\0" + body
folder = os.path.join(store, "points", machine, dataset)
os.makedirs(folder, exist_ok=True)
open(os.path.join(folder, pid.hex()[:16]), "wb").write(env)
PY
}
LIST=$(printf '%064d' 1)
base='"format":1,"machine":"m","dataset":"d","time":"2026-01-01T00:00:00Z","consistency":"crash","parent":null,"host":"h"'
image() { echo "{$base,\"kind\":\"image\",$1,\"lists\":[\"$LIST\"]}"; }
tree() { echo "{$base,\"kind\":\"tree\",\"time_us\":1,\"size\":0,\"block_size\":0,\"blocks\":0,\"lists\":[],$1}"; }
root_ok='"refs":[],"mode":493,"uid":0,"gid":0'

n=0
refused() { # DESCRIPTION JSON: the point is refused as malformed by points and restore
	n=$((n + 1)); rm -rf "f$n"; lb store init "f$n" >/dev/null
	forge "f$n" m d "$2"
	expect 1 "*malformed point*" "$1: points refuses it" lb points --store "f$n"
	expect 1 "*malformed point*" "$1: restore refuses it" lb restore --store "f$n" m/d "out$n"
}
refused "a 2 GiB block size" "$(image '"time_us":1,"size":2147483648,"block_size":2147483648,"blocks":1')"
refused "a 16 GiB block size" "$(image '"time_us":1,"size":17179869184,"block_size":17179869184,"blocks":1')"
refused "a 1 KiB block size" "$(image '"time_us":1,"size":1024,"block_size":1024,"blocks":1')"
refused "a size beyond 2^53" "$(image '"time_us":1,"size":1e300,"block_size":16384,"blocks":1')"
refused "a time beyond any clock" "$(image '"time_us":1e300,"size":16384,"block_size":16384,"blocks":1')"
refused "a fractional size" "$(image '"time_us":1,"size":16383.5,"block_size":16384,"blocks":1')"
refused "a tree root mtime of 1e300 s" "$(tree "\"root\":{$root_ok,\"mtime\":[1e300,0]}")"
refused "a tree root uid beyond 32 bits" "$(tree '"root":{"refs":[],"mode":493,"uid":1e20,"gid":0,"mtime":[0,0]}')"
rm -rf ok; lb store init ok >/dev/null
forge ok m d "$(tree "\"root\":{$root_ok,\"mtime\":[-86400,5]}")"
check "a sound forged tree point (mtime before 1970) is accepted" lb points --store ok

# Durability of folders: each one made is followed, in the same thread, by
# an fsync of its parent, before anything else is opened there.
"$GEN" create a.img 4M "$SEED"
mkdir -p t/sub; echo x > t/sub/f
# (LeakSanitizer cannot run under ptrace: no leak checks for the traced runs)
traced() { env ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" strace -f -qq -e trace=mkdir,mkdirat,openat,fsync "$@"; }
traced -o init.trace "$LB_BIN" store init new/st >/dev/null
traced -o sync.trace "$LB_BIN" sync a.img --store new/st --as m/d >/dev/null
traced -o tree.trace "$LB_BIN" sync t --store new/st --as web/etc >/dev/null
checker='
import os, re, sys
made, bad = 0, []
for trace in sys.argv[1:]:
    ev, pending = [], {}
    for line in open(trace):
        m = re.match(r"(\d+)\s+(.*)", line.rstrip("\n"))
        pid, rest = m.groups() if m else ("0", line.rstrip("\n"))
        if rest.endswith("<unfinished ...>"):
            pending[pid] = rest[: -len("<unfinished ...>")]
            continue
        r = re.match(r"<\.\.\. \w+ resumed>(.*)", rest)
        if r:
            rest = pending.pop(pid, "") + r.group(1)
        ev.append((pid, rest))
    for i, (pid, call) in enumerate(ev):
        m = re.match(r"mkdir(?:at)?\((?:AT_FDCWD, )?\"([^\"]+)\".*\)\s+= 0", call)
        if not m:
            continue
        made += 1
        parent = os.path.dirname(m.group(1)) or "."
        later = [c for p, c in ev[i + 1:] if p == pid]
        opened = next((c for c in later if c.startswith("openat(")), "")
        o = re.match(r"openat\(AT_FDCWD, \"([^\"]+)\", [^)]*O_DIRECTORY[^)]*\)\s+= (\d+)", opened)
        synced = o and o.group(1) == parent and any(re.match(r"fsync\(%s\)\s+= 0" % o.group(2), c) for c in later)
        if not synced:
            bad.append(m.group(1))
print(made, " ".join(bad))
'
read -r made bad <<<"$("$PYTHON" -c "$checker" init.trace sync.trace tree.trace)"
check "the commands made store folders ($made)" test "${made:-0}" -ge 8
if [ -z "$bad" ]; then pass "each new store folder's parent is fsynced"; else fail "each new store folder's parent is fsynced" "not synced: $bad"; fi
check "the store is sound" lb verify --store new/st --full
