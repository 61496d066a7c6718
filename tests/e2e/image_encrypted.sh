#!/usr/bin/env bash
# Encrypted stores: round trip, wrong and missing keys, passphrases.
. "$(dirname "$0")/lib.sh"

check "init an encrypted store, creating the key file" lb store init st --encrypt --key-file k
check "the key file is private (0600)" test "$(stat -c %a k)" = 600
"$GEN" create a.img 48M "$SEED"
check "sync into it" lb sync a.img --store st --as db/disk --key-file k
LIFEBOAT_KEY_FILE=k lb restore --store st db/disk out.img >/dev/null
check "restore with LIFEBOAT_KEY_FILE is bit-exact" cmp a.img out.img
check "no pack holds plain image bytes" sh -c "! grep -rqa 'status=200' st/packs"
check "verify --full with the key" lb verify --store st --full --key-file k
before=$(tree_digest st)
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > wrong
expect 2 "*wrong key for store st*" "a wrong key fails cleanly (exit 2)" lb points --store st --key-file wrong
expect 2 "*wrong key for store st*" "a wrong key cannot restore" lb restore --store st db/disk x.img --key-file wrong
expect 2 "*is encrypted: give --key-file*" "a missing key is named" lb sync a.img --store st --as db/disk
expect 2 "*cannot read key file nope*" "an unreadable key file is named" lb verify --store st --key-file nope
check "failed commands changed nothing in the store" test "$before" = "$(tree_digest st)"
check "nothing was written for the failed restore" test ! -e x.img

check "a passphrase store" env LIFEBOAT_PASSPHRASE='correct horse battery' "$LB_BIN" store init pst --encrypt
LIFEBOAT_PASSPHRASE='correct horse battery' lb sync a.img --store pst --as db/disk >/dev/null
expect 2 "*wrong key*" "a wrong passphrase fails" env LIFEBOAT_PASSPHRASE='wrong' "$LB_BIN" points --store pst
LIFEBOAT_PASSPHRASE='correct horse battery' lb restore --store pst db/disk p.img >/dev/null
check "passphrase store round-trips" cmp a.img p.img
