#!/usr/bin/env bash
# Tree syncs told which folders changed (`sync --changed FILE --since
# POINT`, what protect's watcher writes): rounds of random changes (files
# written, removed, renamed, chmod-ed; folders made, removed, moved; links)
# each followed by a sync that lists only the changed folders; the point
# must be the very one a full listing makes (a full sync right after adds
# nothing and counts the same files and bytes) and restore to the source.
# Hard links or another parent make it a full listing; a bad list is
# refused without a point.
. "$(dirname "$0")/lib.sh"

lb store init st >/dev/null
mkdir -p src
$PYTHON - "$SEED" <<'PY'
import os, random, sys
random.seed(int(sys.argv[1]))
for d in range(40):
    p = "src/d%d/e%d" % (d % 5, d)
    os.makedirs(p, exist_ok=True)
    for f in range(random.randint(0, 12)):
        open("%s/f%d" % (p, f), "w").write("x" * random.randint(0, 3000))
PY
lb sync src --store st --as m/d >/dev/null 2>&1
newest() { lb points --store st m/d --json | $PYTHON -c 'import json, sys; print(json.load(sys.stdin)[-1]["id"])'; }
field() { $PYTHON -c 'import json, sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$1" "$2"; }

# mutate ROUND: random changes under src; writes the folders they touched to changed (NUL-ended)
mutate() {
	$PYTHON - "$SEED" "$1" <<'PY'
import os, random, shutil, sys
random.seed(int(sys.argv[1]) * 1000 + int(sys.argv[2]))
touched = set()
def rel(p): return "." if p == "src" else os.path.relpath(p, "src")
def dirs():
    return [r for r, _, _ in os.walk("src")]
def mark_tree(p):
    for r, _, _ in os.walk(p): touched.add(rel(r))
for _ in range(random.randint(1, 8)):
    ds = dirs()
    d = random.choice(ds)
    files = [f for f in os.listdir(d) if os.path.isfile(os.path.join(d, f)) and not os.path.islink(os.path.join(d, f))]
    act = random.choice(["write", "append", "remove", "rename", "chmod", "mkdir", "rmdir", "mvdir", "symlink", "new"])
    if act in ("write", "append", "remove", "rename", "chmod") and files:
        f = os.path.join(d, random.choice(files))
        if act == "write": open(f, "w").write("y" * random.randint(0, 5000))
        elif act == "append": open(f, "a").write("more")
        elif act == "remove": os.remove(f)
        elif act == "rename": os.rename(f, f + "r")
        else: os.chmod(f, 0o600)
        touched.add(rel(d))
    elif act == "mkdir":
        n = os.path.join(d, "n%d" % random.randint(0, 999))
        os.makedirs(os.path.join(n, "deeper"), exist_ok=True)
        open(os.path.join(n, "deeper", "g"), "w").write("new")
        touched.add(rel(d)); mark_tree(n)
    elif act == "rmdir" and d != "src":
        shutil.rmtree(d); touched.add(rel(os.path.dirname(d)))
    elif act == "mvdir" and d != "src":
        to = random.choice([x for x in dirs() if not (x + "/").startswith(d + "/")])
        dest = os.path.join(to, "m%d" % random.randint(0, 999))
        if not os.path.exists(dest):
            os.rename(d, dest)
            touched.add(rel(os.path.dirname(d))); touched.add(rel(to)); mark_tree(dest)
    elif act == "symlink":
        l = os.path.join(d, "l%d" % random.randint(0, 999))
        if not os.path.lexists(l): os.symlink("somewhere", l); touched.add(rel(d))
    elif act == "new":
        open(os.path.join(d, "new%d" % random.randint(0, 999)), "w").write("n" * random.randint(1, 100))
        touched.add(rel(d))
with open("changed", "wb") as out:
    for t in sorted(touched): out.write(t.encode() + b"\0")
PY
}

bad=""
for round in $(seq 1 12); do
	mutate "$round"
	since=$(newest)
	hinted=$(lb sync src --store st --as m/d --changed changed --since "$since" --json 2>&1) || { bad="round $round: $hinted"; break; }
	[ "$(field "$hinted" walk)" = changed ] || { bad="round $round did not use the list: $hinted"; break; }
	full=$(lb sync src --store st --as m/d --json 2>&1)
	for k in files size; do
		[ "$(field "$hinted" $k)" = "$(field "$full" $k)" ] || bad="round $round: $k $(field "$hinted" $k) listing the changed folders, $(field "$full" $k) listing all"
	done
	[ "$(field "$full" bytes_added)" = 0 ] || bad="round $round: a full listing after it added $(field "$full" bytes_added) bytes: the points differ"
	[ -z "$bad" ] || break
done
if [ -z "$bad" ]; then pass "12 rounds of random changes: listing only the changed folders makes the point a full listing makes"; else fail "changed folders give the same point" "$bad"; fi
rm -rf out; lb restore --store st m/d out >/dev/null 2>&1
check "the last point restores to the source" diff -r --no-dereference src out

# nothing changed: the root alone is kept, no folder listed
: > none
r=$(lb sync src --store st --as m/d --changed none --since "$(newest)" --json)
if [ "$(field "$r" folders_listed)" = 0 ] && [ "$(field "$r" files_unchanged)" = "$(field "$r" files)" ]; then
	pass "an empty list lists no folder and reads no file"
else fail "an empty list lists no folder" "$r"; fi

# a folder swapped for another under the same name, the list not saying so
# (renamed after the watcher's list was taken): the folder is not the
# parent's (another inode), so it is listed anyway
mkdir -p src/public src/public.new && echo v1 > src/public/index && echo v2 > src/public.new/index
lb sync src --store st --as m/d >/dev/null 2>&1
since=$(newest)
mv src/public src/public.old && mv src/public.new src/public
printf 'public.new\0' > stale
r=$(lb sync src --store st --as m/d --changed stale --since "$since" --json)
rm -rf out; lb restore --store st m/d out >/dev/null 2>&1
if [ "$(cat out/public/index 2>&1)" = v2 ] && [ "$(cat out/public.old/index 2>&1)" = v1 ]; then
	pass "a folder swapped under the same name is listed though the list leaves it out"
else fail "a swapped folder is listed" "$r" "public: $(cat out/public/index 2>&1), public.old: $(cat out/public.old/index 2>&1)"; fi

# another parent than the newest: every folder is listed
old=$(lb points --store st m/d --json | $PYTHON -c 'import json, sys; print(json.load(sys.stdin)[0]["id"])')
echo late > src/late
r=$(lb sync src --store st --as m/d --changed none --since "$old" --json)
[ "$(field "$r" walk)" = full ] && pass "a list relative to an older point lists every folder" || fail "an older --since lists all" "$r"

# a hard link in a listed folder: only a full listing can keep it
d=$(cd src && find . -mindepth 2 -type f | head -1)
ln "src/$d" src/hard
printf '.\0' > root-only
r=$(lb sync src --store st --as m/d --changed root-only --since "$(newest)" --json)
rm -rf out; lb restore --store st m/d out >/dev/null 2>&1
if [ "$(field "$r" walk)" = full ] && [ "$(stat -c %i out/hard)" = "$(stat -c %i "out/$d")" ]; then
	pass "a hard link makes it a full listing, and the link is kept"
else fail "a hard link makes it a full listing" "$r"; fi
# and while the newest point has one, lists are not taken
r=$(lb sync src --store st --as m/d --changed none --since "$(newest)" --json)
[ "$(field "$r" walk)" = full ] && pass "a parent with hard links is always listed whole" || fail "a parent with hard links" "$r"
rm src/hard; lb sync src --store st --as m/d >/dev/null 2>&1

# bad lists: refused, no point made
n0=$(lb points --store st m/d --json | $PYTHON -c 'import json, sys; print(len(json.load(sys.stdin)))')
printf '../etc\0' > up
expect 2 "*up: folder 1 is not a path inside the tree*" "a folder outside the tree is refused" \
	lb sync src --store st --as m/d --changed up --since "$(newest)"
printf '/etc\0' > abs
expect 2 "*abs: folder 1 is not a path inside the tree*" "an absolute folder is refused" \
	lb sync src --store st --as m/d --changed abs --since "$(newest)"
printf 'a\0b' > unended
expect 2 "*the last folder is not ended by a NUL byte*" "a list not ended by NUL is refused" \
	lb sync src --store st --as m/d --changed unended --since "$(newest)"
expect 2 "*cannot read the changed folders missing*" "a missing list is refused" \
	lb sync src --store st --as m/d --changed missing --since "$(newest)"
expect 2 "*--changed and --since go together*" "--changed needs --since" lb sync src --store st --as m/d --changed none
n1=$(lb points --store st m/d --json | $PYTHON -c 'import json, sys; print(len(json.load(sys.stdin)))')
[ "$n0" = "$n1" ] && pass "bad lists made no point" || fail "bad lists made no point" "$n0 -> $n1"
echo "1..$T_N"
