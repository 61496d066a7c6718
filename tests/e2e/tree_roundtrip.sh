#!/usr/bin/env bash
# Tree points: every entry type, odd names, metadata, incremental syncs.
. "$(dirname "$0")/lib.sh"

# meta DIR: one line per entry with type, mode, owner, mtime, size and link target.
meta() { (cd "$1" && find . -mindepth 1 -printf '%P|%y|%m|%U|%G|%T@|%s|%l\n' | LC_ALL=C sort); }
# links DIR: groups of hard-linked names.
links() { (cd "$1" && find . -type f -links +1 -printf '%i %P\n' | sort | awk '{g[$1]=g[$1] " " $2} END{for (i in g) print g[i]}' | sort); }

mkdir -p src/etc/app src/var/lib/db src/empty-dir "src/with space" src/deep/a/b/c/d/e
echo "listen 8080" > src/etc/app/web.conf
printf 'db=primary\n' > src/etc/app/app.ini
: > src/etc/empty-file
"$GEN" create src/var/lib/db/data.bin 6M "$SEED"
head -c 300000 /dev/urandom > src/var/lib/db/random.bin
cp src/var/lib/db/random.bin src/var/lib/db/random-copy.bin
truncate -s 20M src/sparse.img
printf 'middle' | dd of=src/sparse.img bs=1 seek=10000000 conv=notrunc status=none
ln -s ../etc/app/web.conf src/var/link-rel
ln -s /etc/hostname src/var/link-abs
ln -s does-not-exist src/var/link-dangling
ln src/etc/app/web.conf src/var/hardlink-to-web.conf
printf 'newline' > "src/with space/name
with newline"
printf 'latin1' > "src/with space/caf$(printf '\xe9')"
printf 'dash' > "src/with space/-leading-dash"
echo deep > src/deep/a/b/c/d/e/f.txt
mkfifo src/var/pipe
chmod 0600 src/etc/app/app.ini
chmod 4755 src/deep/a/b/c/d/e/f.txt
chmod 0700 src/var/lib
touch -d '2001-02-03 04:05:06.123456789' src/etc/app/web.conf src/deep/a
touch -h -d '2002-03-04 05:06:07' src/var/link-rel
if [ "$(id -u)" = 0 ]; then chown 65534:65534 src/etc/app/app.ini; chown -h 65534:65534 src/var/link-abs; fi

check "store init" lb store init st
out=$(lb sync src --store st --as web/root --json)
case $out in *'"kind":"tree"'*) pass "a folder syncs as a tree point" ;; *) fail "a folder syncs as a tree point" "$out" ;; esac
check "restore the tree" lb restore --store st web/root out
check "contents are identical (diff -r, links not followed)" diff -r --no-dereference -x pipe src out
check "types, modes, owners, times, sizes and link targets are identical" test "$(meta src)" = "$(meta out)"
check "hard links are restored as hard links" test "$(links src)" = "$(links out)"
check "the sparse file keeps its hole" is_sparse out/sparse.img
check "the fifo is a fifo" test -p out/var/pipe
check "the setuid bit is kept" test -u out/deep/a/b/c/d/e/f.txt
check "the root folder's time is kept" test "$(stat -c %Y src)" = "$(stat -c %Y out)"

out=$(lb sync src --store st --as web/root --json)
case $out in *'"bytes_read":0,'*'"bytes_added":0,'*) pass "an unchanged tree reads and adds nothing" ;;
	*) fail "an unchanged tree reads and adds nothing" "$out" ;; esac

echo "listen 9090" > src/etc/app/web.conf.new && mv src/etc/app/web.conf.new src/etc/app/web.conf
mv src/var/lib/db/random-copy.bin src/var/lib/db/renamed.bin
rm src/etc/empty-file
echo "new file" > src/deep/a/b/new.txt
printf 'x' | dd of=src/var/lib/db/data.bin bs=1 seek=3000000 conv=notrunc status=none
out=$(lb sync src --store st --as web/root --json)
files=$(echo "$out" | sed 's/.*"files":\([0-9]*\).*/\1/'); same=$(echo "$out" | sed 's/.*"files_unchanged":\([0-9]*\).*/\1/')
echo "# incremental: $out"
check "after edits, only the 5 changed, renamed or relinked files are read" test "$same" -eq $((files - 5))
added=$(echo "$out" | sed 's/.*"bytes_added":\([0-9]*\).*/\1/')
check "a one-byte edit of a 6 MiB file adds less than 300 KiB (content-defined chunks)" test "$added" -lt 300000
check "restore the incremental point" lb restore --store st web/root out2
check "it equals the edited tree" diff -r --no-dereference -x pipe src out2
check "with the same metadata" test "$(meta src)" = "$(meta out2)"
first=$(lb points --store st web/root --json | sed 's/^\[{"id":"\([0-9a-f]*\)".*/\1/')
check "the first point still restores" lb restore --store st "web/root@$first" out3
check "identical to the first restore" diff -r --no-dereference -x pipe out out3

expect 2 "*out exists*" "restoring a tree onto an existing path is refused" lb restore --store st web/root out
check "verify --full passes" lb verify --store st --full

lb store init est --encrypt --key-file k >/dev/null
lb sync src --store est --as web/root --key-file k >/dev/null
lb restore --store est web/root eout --key-file k >/dev/null
check "an encrypted store round-trips the tree" diff -r --no-dereference -x pipe src eout

# verify reads every folder listing of a tree point: damage there is found
# without --full, and named.
lb store init dst >/dev/null
mkdir -p small/a/b; echo x > small/a/b/f
lb sync small --store dst --as m/t >/dev/null
for p in $(find dst/packs -type f); do
	size=$(stat -c %s "$p")
	printf 'X' | dd of="$p" bs=1 seek=$((size / 2)) conv=notrunc status=none
done
expect 1 "*point m/t/*" "structural verify finds a damaged folder listing of a tree point" lb verify --store dst
