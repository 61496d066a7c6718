#!/usr/bin/env bash
# Remakes the generated seeds in tests/fuzz/corpus/ with the real program:
# a small disk image and a small folder tree (every kind of entry) synced
# twice each (the second sync incremental) into a plain store and into an
# encrypted one; then seeds.c reads every index file, point, folder stream
# and pack back with the engine and writes what each target takes. The
# example plans are copied into corpus/plan/. The other seeds (corpus/yaml/,
# the plan-*.yaml in corpus/plan/) are written by hand and kept.
#
# Not part of `make fuzz`: run it when a store format changes, then commit.
set -eu
cd "$(dirname "$0")/../.."
make -s lifeboat
work=$(mktemp -d /tmp/lifeboat-corpus.XXXXXX)
trap 'rm -rf "$work"' EXIT
libs="openssl libcjson libzstd"
# shellcheck disable=SC2046 # pkg-config prints a list of flags
${CC:-cc} -std=c11 -Wall -Wextra -D_GNU_SOURCE -Iengine -Itests/fuzz $(pkg-config --cflags "$libs") -o "$work/seeds" \
	tests/fuzz/seeds.c tests/fuzz/harness.c build/libengine.a $(pkg-config --libs "$libs") -lpthread -lm

# 64 KiB image: text, a hole, random bytes, text
img=$work/disk.img
{ for i in $(seq 400); do echo "block text line $i of the fuzz seed image"; done | head -c 16384
  head -c 16384 /dev/zero; head -c 16384 /dev/urandom
  for i in $(seq 400); do echo "more text $i"; done | head -c 16384; } >"$img"

# a tree with every kind of entry
t=$work/tree
mkdir -p "$t/etc/nginx" "$t/var/www/empty" "$t/var/lib"
echo "127.0.0.1 localhost" >"$t/etc/hosts"
printf 'server { listen 8080; root /var/www; }\n' >"$t/etc/nginx/site.conf"
for i in $(seq 200); do echo "log line $i GET /api/v1/bookings 200"; done >"$t/var/lib/app.log"
: >"$t/var/www/empty.txt"
ln -s ../../etc/nginx/site.conf "$t/var/www/site-link"
ln "$t/etc/hosts" "$t/etc/hosts.hardlink"
mkfifo "$t/var/lib/app.fifo"
truncate -s 1M "$t/var/lib/sparse.img"
printf 'x' | dd of="$t/var/lib/sparse.img" bs=1 seek=524288 conv=notrunc 2>/dev/null
touch "$t/var/www/$(printf 'n%.0s' $(seq 200))" "$t/var/www/caf$(printf '\303\251')"
chmod 0751 "$t/var/www"
[ "$(id -u)" = 0 ] && mknod "$t/var/lib/null" c 1 3

key=$work/key
./lifeboat store init "$work/plain" >/dev/null
./lifeboat store init "$work/enc" --encrypt --key-file "$key" >/dev/null
for store in plain enc; do
	opts=(--store "$work/$store")
	[ $store = enc ] && opts+=(--key-file "$key")
	./lifeboat sync "$img" "${opts[@]}" --as web01/disk0 --block-size 4KiB >/dev/null
	./lifeboat sync "$t" "${opts[@]}" --as web01/www >/dev/null
	echo "changed" >>"$t/etc/hosts"
	printf 'changed block' | dd of="$img" bs=1 seek=100 conv=notrunc 2>/dev/null
	./lifeboat sync "$img" "${opts[@]}" --as web01/disk0 >/dev/null
	./lifeboat sync "$t" "${opts[@]}" --as web01/www >/dev/null
done

out=$work/seeds-out
"$work/seeds" "$work/plain" "$out"
"$work/seeds" "$work/enc" "$out" "$key"
for kind in envelope index point tree pack; do
	mkdir -p "tests/fuzz/corpus/$kind"
	rm -f tests/fuzz/corpus/"$kind"/plain-* tests/fuzz/corpus/"$kind"/enc-*
	cp "$out/$kind"/* "tests/fuzz/corpus/$kind/"
	# the same folder in two points, or in both stores: keep one copy
	(cd "tests/fuzz/corpus/$kind" && sha256sum -- * | sort | awk 'seen[$1]++ { print $2 }' | xargs -r rm -f --)
done
mkdir -p tests/fuzz/corpus/plan
cp plans/paper.yaml tests/fuzz/corpus/plan/example-paper.yaml
cp plans/smarthotel/plan.yaml tests/fuzz/corpus/plan/example-smarthotel.yaml
du -sh tests/fuzz/corpus
