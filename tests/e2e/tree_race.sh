#!/usr/bin/env bash
# Tree restore against a local user changing DEST while it runs. The point's
# first file (in restore order) is large; the restore runs on one thread, is
# stopped once that file grows (the write phase began, the walk is over), and
# DEST/sub is then swapped for a symlink to a folder outside DEST (or a file in
# it for a hard link to a file outside). Whatever the restore does after that,
# the folder outside and its files keep their content, mode, owner and time,
# and nothing new appears in it. Each phase after the walk (file writes, links
# and special files, folder metadata) is covered, for a plain restore (which
# works in a hidden folder beside DEST) and for --delta; and the final rename
# of a plain restore must not replace a DEST made meanwhile.
. "$(dirname "$0")/lib.sh"

BIG=$((32 << 20))
head -c "$BIG" /dev/urandom > big.bin
lb store init st >/dev/null

# snap DIR: every entry under DIR (itself included) with type, mode, owner,
# time, size and link target, and the content of every file.
snap() {
	(cd "$1" && find . -printf '%p|%y|%m|%U|%G|%T@|%s|%l\n' | LC_ALL=C sort &&
		find . -type f -exec sha256sum {} + | LC_ALL=C sort)
}

# sentinel FILE: a file outside DEST with known content, mode, owner and time.
sentinel() {
	echo "sentinel $1" > "$1"
	chmod 0604 "$1"
	touch -d '2001-02-03 04:05:06' "$1"
	if [ "$(id -u)" = 0 ]; then chown 65534:65534 "$1"; fi
}

# point NAME: syncs src-NAME (0big first, then what the caller put in sub/) as m/NAME.
point() {
	cp big.bin "src-$1/0big"
	lb sync "src-$1" --store st --as "m/$1" >/dev/null
}

# race NAME MODE SWAP: restores m/NAME to d-NAME-MODE (MODE plain or delta),
# stops it while it writes 0big, runs "SWAP WORKDIR" (WORKDIR: the folder the
# restore writes in), and lets it finish. Sets RC and ERR. Returns 1 when the
# restore could not be stopped in time (tried 5 times).
race() {
	local name=$1 mode=$2 swap=$3 dest="d-$1-$2" try pid f size work
	for try in 1 2 3 4 5; do
		rm -rf "$dest" ".$dest".lifeboat-*
		local args=()
		if [ "$mode" = delta ]; then
			lb restore --store st "m/$name" "$dest" >/dev/null
			rm "$dest/0big" # made anew by the walk, so written from its first byte
			args=(--delta)
		fi
		"$LB_BIN" restore --store st "m/$name" "$dest" --threads 1 "${args[@]}" 2>err.txt &
		pid=$!
		f=
		while kill -0 "$pid" 2>/dev/null; do
			for f in "$dest"/0big ".$dest".lifeboat-*/0big; do
				[ -s "$f" ] && break 2
			done
			f=
		done
		if [ -n "$f" ] && kill -STOP "$pid" 2>/dev/null; then
			size=$(stat -c %s "$f")
			if [ "$size" -lt "$BIG" ]; then
				work=$(dirname "$f")
				"$swap" "$work"
				kill -CONT "$pid"
				wait "$pid"; RC=$?
				ERR=$(cat err.txt)
				return 0
			fi
			kill -CONT "$pid"
		fi
		wait "$pid"
	done
	return 1
}

# after DESC OUT MODE NAME BEFORE: the checks once a race ran.
after() {
	local desc=$1 out=$2 mode=$3 dest="d-$4-$3" before=$5
	if [ "$(snap "$out")" = "$before" ]; then
		pass "$desc: nothing outside DEST is written, chmodded, chowned, re-timed or made"
	else
		fail "$desc: nothing outside DEST is written, chmodded, chowned, re-timed or made" \
			"before:" "$before" "after:" "$(snap "$out")" "restore exit $RC: $ERR"
	fi
	# Failing is fine, with one clear line naming the path; anything else is not.
	case "$RC:$ERR" in
	0:) pass "$desc: the restore ends well" ;;
	1:*"$dest"*/sub*) pass "$desc: the restore fails, naming the path: $ERR" ;;
	*) fail "$desc: the restore ends well or fails naming the path" "exit $RC: $ERR" ;;
	esac
	if [ "$mode" = plain ]; then
		local left
		left=$(ls -d ".$dest".lifeboat-* 2>/dev/null)
		check "$desc: no work folder is left beside DEST" test -z "$left"
	fi
}

to_symlink() { mv "$1/sub" "$1/sub.moved" && ln -s "$OUT" "$1/sub"; }
to_hardlink() { rm "$1/sub/f" && ln "$OUT/f" "$1/sub/f"; }

# run NAME SWAP DESC: both modes, each with a fresh out-NAME made by make_out_NAME.
run() {
	local name=$1 swap=$2 desc=$3 mode
	for mode in plain delta; do
		OUT=$WORK/out-$name-$mode
		rm -rf "$OUT"; mkdir "$OUT"
		"make_out_$name" "$OUT"
		local before
		before=$(snap "$OUT")
		if race "$name" "$mode" "$swap"; then
			after "$desc ($mode)" "$OUT" "$mode" "$name" "$before"
		else
			fail "$desc ($mode): the restore could not be stopped while it wrote its first file"
		fi
	done
}

# The file-write phase: sub/f is written (plain) or updated in place (delta).
mkdir -p src-write/sub; echo "the point's f" > src-write/sub/f
point write
make_out_write() { (cd "$1" && sentinel f && chmod 0755 . && touch -d '2001-02-03' .); }
run write to_symlink "file writes through a folder swapped for a symlink"
run write to_hardlink "file writes to a file swapped for a hard link to one outside"

# The links phase: a symlink, a fifo, a hard link (and a device node, as root).
mkdir -p src-links/sub; echo hl > src-links/1hl
ln -s ../1hl src-links/sub/link; mkfifo src-links/sub/pipe; ln src-links/1hl src-links/sub/hard
if [ "$(id -u)" = 0 ]; then mknod src-links/sub/null c 1 3; fi
point links
make_out_links() { (cd "$1" && sentinel keep && chmod 0755 . && touch -d '2001-02-03' .); }
run links to_symlink "links and special files through a folder swapped for a symlink"

# The folder-metadata phase: sub/inner gets its owner, mode and time last.
mkdir -p src-dirs/sub/inner; chmod 0700 src-dirs/sub/inner
point dirs
make_out_dirs() {
	(cd "$1" && mkdir inner && sentinel inner/g && chmod 0750 inner . && touch -d '2001-02-03' inner .)
	if [ "$(id -u)" = 0 ]; then chown 65534:65534 "$1/inner"; fi
}
run dirs to_symlink "folder metadata through a folder swapped for a symlink"

# The final rename: a DEST made while the restore ran stays as it is.
made_dest() { mkdir d-write-plain; echo ino > ino.txt; stat -c %i d-write-plain >> ino.txt; }
if race write plain made_dest; then
	case "$RC:$ERR" in
	2:*"d-write-plain was made while the restore ran"*) pass "a DEST made meanwhile: the restore fails (exit 2), saying so" ;;
	*) fail "a DEST made meanwhile: the restore fails (exit 2), saying so" "exit $RC: $ERR" ;;
	esac
	check "the DEST made meanwhile is not replaced" test "$(stat -c %i d-write-plain)" = "$(sed -n 2p ino.txt)"
	check "and stays empty" test -z "$(ls -A d-write-plain)"
	check "no work folder is left beside it" test -z "$(ls -d .d-write-plain.lifeboat-* 2>/dev/null)"
else
	fail "a DEST made meanwhile: the restore could not be stopped while it wrote its first file"
fi

# And with nobody racing, the same points restore whole, both ways.
rm -rf d-links-plain d-links-delta
lb restore --store st m/links d-links-plain >/dev/null
check "undisturbed, a plain restore of the links point is identical" diff -r --no-dereference -x pipe -x null src-links d-links-plain
cp -a d-links-plain d-links-delta; rm d-links-delta/sub/link; echo x > d-links-delta/sub/link; chmod 0777 d-links-delta/sub
check "and a delta restore brings a changed copy back" lb restore --store st m/links d-links-delta --delta
check "identical too" diff -r --no-dereference -x pipe -x null src-links d-links-delta
meta() { (cd "$1" && find . -mindepth 1 -printf '%P|%y|%m|%U|%G|%T@|%l\n' | LC_ALL=C sort); }
check "with the same types, modes, owners and times" test "$(meta src-links)" = "$(meta d-links-delta)"
