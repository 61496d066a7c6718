#!/usr/bin/env bash
# A replica store in Azure Blob Storage (Azurite on 127.0.0.1, which checks
# SharedKey and SAS signatures): every command, bad credentials, a
# read-only SAS.
source "$(dirname "$0")/lib.sh"
source "$E2E_DIR/lib_stores.sh"
start_azurite || { fail "azurite starts"; exit 1; }
remote_suite "$AZ_URL" "$AZ_KEY"

CS=$AZURE_STORAGE_CONNECTION_STRING
WRONG=${CS/AccountKey=Eby8/AccountKey=Fby8}
expect 2 "*access denied*" "a wrong account key: access denied" \
	env AZURE_STORAGE_CONNECTION_STRING="$WRONG" "$LB_BIN" points --store "$AZ_URL"
expect 2 "*no credentials*" "no key and no SAS token" \
	env -u AZURE_STORAGE_CONNECTION_STRING AZURE_STORAGE_ACCOUNT=devstoreaccount1 "$LB_BIN" points --store "$AZ_URL"
expect 2 "*no such container*" "a container that does not exist" lb points --store az://no-such-container/x
expect 2 "*container name*" "a container name Azure does not allow" lb points --store az://Bad_Container
export LIFEBOAT_PASSPHRASE="correct horse battery staple"
check "azure:// names the same store" lb points --store "azure://lifeboat-test/replica"

# An account SAS that may read and list but not write: reading works, writing is refused cleanly.
sas() { # PERMISSIONS
	local sv=2021-08-06 se=2030-01-01T00:00:00Z sig
	sig=$(printf '%s\n%s\nb\nsco\n\n%s\n\n\n%s\n\n' "$AZ_ACCOUNT" "$1" "$se" "$sv" | openssl dgst -sha256 -mac HMAC -macopt "hexkey:$(printf %s "$AZ_KEY" | base64 -d | od -An -tx1 -v | tr -d ' \n')" -binary | base64 -w0)
	printf 'sv=%s&ss=b&srt=sco&sp=%s&se=%s&sig=%s' "$sv" "$1" "$se" "$($PYTHON -c 'import sys,urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$sig")"
}
RO="BlobEndpoint=http://127.0.0.1:$AZ_PORT/$AZ_ACCOUNT;SharedAccessSignature=$(sas rl)"
before=$(lb points --store "$AZ_URL" --json)
check "a read-only SAS: points" env AZURE_STORAGE_CONNECTION_STRING="$RO" "$LB_BIN" points --store "$AZ_URL"
rm -rf ro.out
check "a read-only SAS: restore" env AZURE_STORAGE_CONNECTION_STRING="$RO" "$LB_BIN" restore --store "$AZ_URL" vm/www ro.out
check "a read-only SAS: verify --full" env AZURE_STORAGE_CONNECTION_STRING="$RO" "$LB_BIN" verify --store "$AZ_URL" --full
expect 2 "*access denied*" "a read-only SAS: sync is refused" \
	env AZURE_STORAGE_CONNECTION_STRING="$RO" "$LB_BIN" sync img --store "$AZ_URL" --as vm/disk
[ "$(lb points --store "$AZ_URL" --json)" = "$before" ] && pass "the refused sync wrote no point" || fail "the refused sync wrote no point"
check "a read-write SAS works too" env AZURE_STORAGE_CONNECTION_STRING="BlobEndpoint=http://127.0.0.1:$AZ_PORT/$AZ_ACCOUNT;SharedAccessSignature=$(sas rwdlac)" \
	"$LB_BIN" sync img --store "$AZ_URL" --as vm/disk
check "and the store is sound" lb verify --store "$AZ_URL" --full
