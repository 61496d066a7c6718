#!/usr/bin/env bash
# Bad input: one clear line, exit 2, and no change to any data.
. "$(dirname "$0")/lib.sh"

lb store init st >/dev/null
"$GEN" create a.img 8M "$SEED"
P=$(lb sync a.img --store st --as m/d)
before=$(tree_digest st)

expect 2 "*nope.img: no such file*" "missing source" lb sync nope.img --store st --as m/d
chmod 000 a.img
if [ "$(id -u)" != 0 ]; then
	expect 2 "*cannot open a.img*" "unreadable source" lb sync a.img --store st --as m/d
fi
chmod 644 a.img
mkdir -p somedir
mkfifo pipe
expect 2 "*pipe is not a regular file, block device or folder*" "a fifo is not a dataset" lb sync pipe --store st --as m/d
expect 2 "*notastore is not a store*" "a path that is not a store" lb points --store notastore
mkdir -p emptydir
expect 2 "*emptydir is not a store (it has no config*" "an empty folder is not a store" lb points --store emptydir
expect 2 "*no store given*" "no store at all" lb points
expect 2 "*unknown kind of store*" "an unsupported URL scheme" lb points --store ftp://x/y
expect 2 "*unknown option '--frobnicate'*" "an unknown option" lb sync a.img --store st --as m/d --frobnicate
expect 2 "*--store needs a value*" "an option without its value" lb points --store
expect 2 "*unknown command 'frob'*" "an unknown command" lb frob
expect 2 "*give --as MACHINE/DATASET*" "sync without --as" lb sync a.img --store st
expect 2 "*machine name '' is empty*" "empty machine name" lb sync a.img --store st --as /d
expect 2 "*dataset name '' is empty*" "empty dataset name" lb sync a.img --store st --as m/
expect 2 "*dataset name 'd/e' contains '/'*" "a dataset holding /" lb sync a.img --store st --as m/d/e
expect 2 "*contains '..'*" "a name holding .." lb sync a.img --store st --as ../d
expect 2 "*control character*" "a name holding a control character" lb sync a.img --store st --as "$(printf 'm\tx')/d"
expect 2 "*is not MACHINE/DATASET*" "a target without a slash" lb restore --store st md out.img
expect 2 "*--consistency 'sloppy' is not one of*" "a bad consistency" lb sync a.img --store st --as m/d --consistency sloppy
expect 2 "*--block-size 'huge'*" "a bad block size" lb sync a.img --store st --as m/d --block-size huge
expect 2 "*power of two*" "a block size that is not a power of two" lb sync a.img --store st --as m/d --block-size 5000
expect 2 "*no point 'ffff' for m/d*" "an unknown point" lb restore --store st m/d@ffff out.img
expect 2 "*no points for m/zz*" "a dataset without points" lb restore --store st m/zz out.img
cp a.img exists.img
expect 2 "*exists.img exists: give --force*" "an existing destination without --force" lb restore --store st m/d exists.img
check "the existing destination is untouched" cmp a.img exists.img
expect 2 "*is a folder*" "a folder as destination" lb restore --store st m/d somedir
expect 2 "*does not exist*" "a destination in a missing folder" lb restore --store st m/d nodir/out.img
expect 2 "*already a store*" "init over an existing store" lb store init st
expect 2 "*--key-file needs --encrypt*" "a key file without --encrypt" lb store init st9 --key-file k
for t in abc 0 -1 65 "" 4x; do
	expect 2 "*--threads '$t' is not a count from 1 to 64*" "sync --threads '$t' is refused" lb sync a.img --store st --as m/d --threads "$t"
	expect 2 "*--threads '$t' is not a count from 1 to 64*" "restore --threads '$t' is refused" lb restore --store st m/d t.img --threads "$t"
	expect 2 "*--threads '$t' is not a count from 1 to 64*" "verify --threads '$t' is refused" lb verify --store st --threads "$t"
done
check "nothing was restored with a bad --threads" test ! -e t.img
check "none of it changed the store" test "$before" = "$(tree_digest st)"

printf '1 mutated' | dd of=exists.img bs=1 seek=100 conv=notrunc status=none
check "--force replaces an existing destination" lb restore --store st m/d exists.img --force
check "and the replacement is bit-exact" cmp a.img exists.img

sed -i "s/\"format\":[[:space:]]*[0-9]*,/\"format\": 99,/" st/config
expect 2 "*has format 99; this lifeboat reads format 3: upgrade lifeboat*" "a store of a newer format" lb points --store st
printf 'garbage' > st/config
expect 2 "*not a lifeboat config*" "a store with a garbage config" lb points --store st

for c in store sync points restore verify version; do
	out=$(lb $c --help); rc=$?
	if [ $rc = 0 ] && [[ $out == usage:* ]]; then pass "$c --help"; else fail "$c --help" "exit $rc: $out"; fi
done
check "lifeboat --help lists the commands" sh -c "'$LB_BIN' --help | grep -q restore"
out=$(lb --version)
for lib in Lua libcurl OpenSSL cJSON zstd libyaml; do
	case $out in *"$lib"*) pass "--version names $lib" ;; *) fail "--version names $lib" "$out" ;; esac
done
expect 2 "*machine name '..x' contains '..'*" "points refuses a bad machine scope" lb points --store st ..x
expect 2 "*dataset name 'd/e' contains '/'*" "prune refuses a bad dataset scope" lb prune --store st m/d/e --keep-last 1
