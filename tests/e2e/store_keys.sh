#!/usr/bin/env bash
# Keys and the config: a key given to a plain store is refused (whether from
# --key-file or the environment), an encrypted store's settings are
# authenticated so a replaced or edited config is detected, forged scrypt
# costs are bounded, and stores of format 1 still open.
. "$(dirname "$0")/lib.sh"

"$GEN" create a.img 4M "$SEED"
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > k

# A key with a plain store: exit 2, one line naming where the key came from, nothing written.
lb store init plain >/dev/null
before=$(tree_digest plain)
expect 2 "*store plain is not encrypted, but a key was given (--key-file)*" \
	"sync --key-file into a plain store is refused" lb sync a.img --store plain --as m/d --key-file k
expect 2 "*not encrypted, but a key was given (LIFEBOAT_PASSPHRASE in the environment)*" \
	"sync with LIFEBOAT_PASSPHRASE into a plain store is refused" \
	env LIFEBOAT_PASSPHRASE=secret "$LB_BIN" sync a.img --store plain --as m/d
for c in "points" "restore m/d out.img" "verify" "prune --keep-last 1" "repair"; do
	# shellcheck disable=SC2086
	expect 2 "*not encrypted, but a key was given (LIFEBOAT_KEY_FILE in the environment)*" \
		"${c%% *} with LIFEBOAT_KEY_FILE on a plain store is refused" \
		env LIFEBOAT_KEY_FILE=k "$LB_BIN" $c --store plain
done
check "nothing was written to the plain store" test "$before" = "$(tree_digest plain)"
check "no restore was written" test ! -e out.img
expect 2 "*a key is given (LIFEBOAT_KEY_FILE in the environment), but --encrypt is not*" \
	"store init of a plain store with LIFEBOAT_KEY_FILE set is refused" env LIFEBOAT_KEY_FILE=k "$LB_BIN" store init plain2
check "and creates nothing" test ! -e plain2
check "an empty LIFEBOAT_PASSPHRASE is no key" env LIFEBOAT_PASSPHRASE= "$LB_BIN" points --store plain

# An encrypted, empty store whose config is replaced by a plain one: a keyed sync writes nothing.
lb store init enc --encrypt --key-file k >/dev/null
cp plain/config enc/config
expect 2 "*store enc is not encrypted, but a key was given*enc/config was not replaced*" \
	"a keyed sync into a store whose config was swapped for a plain one is refused" \
	lb sync a.img --store enc --as m/d --key-file k
check "no pack (no plaintext) was written" test -z "$(find enc/packs enc/tmp -type f)"

# The settings of an encrypted store are authenticated by its key.
edit() { # STORE SED-EXPRESSION
	"$PYTHON" - "$1/config" "$2" <<'PY'
import json, sys
path, what = sys.argv[1], sys.argv[2]
c = json.load(open(path))
key, _, value = what.partition("=")
where = c["encryption"] if key in ("log_n", "r", "p", "settings_mac") else c
if value == "DELETE":
    del where[key]
else:
    where[key] = json.loads(value)
json.dump(c, open(path, "w"))
PY
}
lb store init est --encrypt --key-file k >/dev/null
lb sync a.img --store est --as m/d --key-file k >/dev/null
cp est/config config.orig
check "a new store is of format 3" grep -q '"format":[[:space:]]*3' est/config
check "its config carries settings_mac" grep -q '"settings_mac"' est/config
check "a key file the user brings keeps scrypt's default cost" grep -q '"log_n":[[:space:]]*15' est/config
lb store init gst --encrypt --key-file made.key >/dev/null
check "a key file init makes is derived from at scrypt's least cost" grep -q '"log_n":[[:space:]]*10' gst/config
check "and opens the store" lb points --store gst --key-file made.key
expect 2 "*wrong key for store gst*" "while another key does not" lb points --store gst --key-file k
for change in 'pack_size=1048576' 'zstd_level=19' 'created="2020-01-01T00:00:00Z"'; do
	cp config.orig est/config; edit est "$change"
	expect 1 "*est/config was altered*" "a config with ${change%%=*} changed is detected" lb points --store est --key-file k
done
cp config.orig est/config; edit est 'format=1'; edit est 'settings_mac=DELETE'
expect 1 "*est/config was altered*" "a config set back to format 1 (no settings_mac) is detected" lb points --store est --key-file k
cp config.orig est/config; edit est 'settings_mac="'"$(printf '%064d' 0)"'"'
expect 1 "*est/config was altered*" "a wrong settings_mac is detected" lb sync a.img --store est --as m/d --key-file k
cp config.orig est/config
check "the original config opens" lb verify --store est --key-file k

# A forged scrypt cost is refused before any memory is taken.
edit est 'log_n=22'; edit est 'r=32'
expect 2 "*unsupported scrypt parameters*at most 1 GiB*" "a forged scrypt cost (16 GiB) is refused" \
	timeout 20 "$LB_BIN" points --store est --key-file k
cp config.orig est/config

# A key file that is a folder is named as such, by every command.
mkdir keydir
for c in "points" "restore m/d out.img" "verify" "prune --keep-last 1" "repair" "sync a.img --as m/d"; do
	# shellcheck disable=SC2086
	expect 2 "*key file keydir is a folder*" "${c%% *}: a key file that is a folder is named" lb $c --store est --key-file keydir
done
expect 2 "*key file keydir is a folder*" "store init: a key file that is a folder is named" \
	lb store init est2 --encrypt --key-file keydir

# A store of format 1 (made by the previous release) still opens, restores and takes syncs.
cp -r "$E2E_DIR/fixtures/store-v1" v1; mkdir -p v1/tmp v1/locks
for i in $(seq 1 600); do echo "line $i of the format 1 fixture image"; done > v1.img
check "a format 1 store opens" lb verify --store v1 --full --key-file "$E2E_DIR/fixtures/store-v1.key"
lb restore --store v1 m/d v1.out --key-file "$E2E_DIR/fixtures/store-v1.key" >/dev/null
check "its point restores bit-exact" cmp v1.img v1.out
check "it takes a new sync" lb sync a.img --store v1 --as m/new --key-file "$E2E_DIR/fixtures/store-v1.key"
lb restore --store v1 m/new new.out --key-file "$E2E_DIR/fixtures/store-v1.key" >/dev/null
check "which restores bit-exact" cmp a.img new.out
check "its config stays format 1" grep -q '"format":[[:space:]]*1' v1/config
expect 2 "*wrong key for store v1*" "a wrong key for a format 1 store" lb points --store v1 --key-file k
