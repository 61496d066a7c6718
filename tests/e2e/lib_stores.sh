# lib_stores.sh — real servers for the remote-store tests, started on
# 127.0.0.1 by the tests themselves and stopped when the test exits:
# Azurite (Azure Blob), s3rver (S3) and OpenSSH's sshd with internal-sftp.
# The npm servers are installed once, at pinned versions, into a cache
# folder (LIFEBOAT_TEST_CACHE, default build/test-cache).
# Source after lib.sh. Each start_* exports what lifeboat needs to reach
# the server and sets *_URL for a store on it.

REPO_DIR=$(cd "$E2E_DIR/../.." && pwd)
STORE_CACHE=${LIFEBOAT_TEST_CACHE:-$REPO_DIR/build/test-cache}
NPM_DIR=$STORE_CACHE/npm
SERVER_PIDS=()

stop_servers() {
	local p
	for p in "${SERVER_PIDS[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${SERVER_PIDS[@]}"; do wait "$p" 2>/dev/null; done
	SERVER_PIDS=()
}
trap 'stop_servers; cleanup_work' EXIT

# npm_servers: azurite and s3rver at pinned versions, installed once.
npm_servers() {
	[ -x "$NPM_DIR/node_modules/.bin/azurite-blob" ] && [ -x "$NPM_DIR/node_modules/.bin/s3rver" ] && return 0
	mkdir -p "$NPM_DIR"
	(
		flock 9
		[ -x "$NPM_DIR/node_modules/.bin/s3rver" ] && exit 0
		npm install --prefix "$NPM_DIR" --no-audit --no-fund --loglevel=error \
			azurite@3.35.0 s3rver@3.7.1 >"$NPM_DIR/install.log" 2>&1
	) 9>"$NPM_DIR/.lock" || { echo "# npm install failed:"; sed 's/^/#   /' "$NPM_DIR/install.log"; return 1; }
}

free_port() { $PYTHON -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# wait_port PORT [SECONDS]: until something accepts connections there.
wait_port() {
	local i
	for ((i = 0; i < ${2:-20} * 20; i++)); do
		(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
		sleep 0.05
	done
	return 1
}

# start_azurite: Azurite's blob service; AZ_PORT, AZ_PID, AZ_URL (a container), AZURE_STORAGE_CONNECTION_STRING.
AZ_ACCOUNT=devstoreaccount1
AZ_KEY='Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=='
start_azurite() {
	npm_servers || return 1
	AZ_PORT=${1:-$(free_port)}
	mkdir -p "$WORK/azurite"
	"$NPM_DIR/node_modules/.bin/azurite-blob" --blobHost 127.0.0.1 --blobPort "$AZ_PORT" \
		--location "$WORK/azurite" --disableTelemetry --silent --skipApiVersionCheck \
		</dev/null >"$WORK/azurite.log" 2>&1 &
	AZ_PID=$!
	SERVER_PIDS+=("$AZ_PID")
	wait_port "$AZ_PORT" 30 || { echo "# azurite did not start:"; tail -5 "$WORK/azurite.log"; return 1; }
	export AZURE_STORAGE_CONNECTION_STRING="DefaultEndpointsProtocol=http;AccountName=$AZ_ACCOUNT;AccountKey=$AZ_KEY;BlobEndpoint=http://127.0.0.1:$AZ_PORT/$AZ_ACCOUNT;"
	AZ_URL=az://lifeboat-test/replica
}

# start_s3rver [PORT] [tls]: s3rver (over https with its own CA when tls);
# S3_PORT, S3_PID, S3_URL (a bucket), S3_CA (tls), AWS_* for it.
start_s3rver() {
	npm_servers || return 1
	S3_PORT=${1:-$(free_port)}
	local scheme=http tls=()
	mkdir -p "$WORK/s3rver"
	if [ "${2:-}" = tls ]; then
		S3_CA=$WORK/s3rver-cert.pem
		openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj /CN=127.0.0.1 \
			-addext "subjectAltName=IP:127.0.0.1" -keyout "$WORK/s3rver-key.pem" -out "$S3_CA" 2>/dev/null
		tls=(--key "$WORK/s3rver-key.pem" --cert "$S3_CA")
		scheme=https
	fi
	"$NPM_DIR/node_modules/.bin/s3rver" -d "$WORK/s3rver" -a 127.0.0.1 -p "$S3_PORT" --silent "${tls[@]}" \
		</dev/null >"$WORK/s3rver.log" 2>&1 &
	S3_PID=$!
	SERVER_PIDS+=("$S3_PID")
	wait_port "$S3_PORT" 30 || { echo "# s3rver did not start:"; tail -5 "$WORK/s3rver.log"; return 1; }
	export AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER AWS_REGION=us-east-1
	export AWS_ENDPOINT_URL=$scheme://127.0.0.1:$S3_PORT
	S3_URL=s3://lifeboat-test/replica
}

# start_sshd: an SFTP server with its own host and client keys; SSH_PORT,
# SSH_PID, SFTP_URL, LIFEBOAT_SSH_KEY, LIFEBOAT_SSH_KNOWN_HOSTS.
start_sshd() {
	SSH_PORT=${1:-$(free_port)}
	local d=$WORK/sshd
	mkdir -p "$d/data"
	ssh-keygen -q -t ed25519 -N '' -f "$d/host_ed25519"
	ssh-keygen -q -t ed25519 -N '' -f "$d/client_ed25519"
	cp "$d/client_ed25519.pub" "$d/authorized_keys"
	cat >"$d/sshd_config" <<-CFG
	ListenAddress 127.0.0.1:$SSH_PORT
	HostKey $d/host_ed25519
	PidFile $d/sshd.pid
	AuthorizedKeysFile $d/authorized_keys
	AllowUsers $(id -un)
	PasswordAuthentication no
	KbdInteractiveAuthentication no
	UsePAM no
	StrictModes no
	Subsystem sftp internal-sftp
	CFG
	[ "$(id -u)" = 0 ] && mkdir -p /run/sshd
	/usr/sbin/sshd -D -e -f "$d/sshd_config" </dev/null >/dev/null 2>"$d/sshd.log" &
	SSH_PID=$!
	SERVER_PIDS+=("$SSH_PID")
	wait_port "$SSH_PORT" 10 || { echo "# sshd did not start:"; tail -5 "$d/sshd.log"; return 1; }
	echo "[127.0.0.1]:$SSH_PORT $(cut -d' ' -f1,2 "$d/host_ed25519.pub")" >"$d/known_hosts"
	export LIFEBOAT_SSH_KEY=$d/client_ed25519 LIFEBOAT_SSH_KNOWN_HOSTS=$d/known_hosts
	SFTP_URL=sftp://$(id -un)@127.0.0.1:$SSH_PORT$d/data/replica
}

# remote_suite URL SECRET: every store command on a remote store, with
# bit-exact round trips, and credentials (SECRET) never in any output.
remote_suite() {
	local url=$1 secret=$2 out
	export LIFEBOAT_PASSPHRASE="correct horse battery staple"
	$GEN create img 24M "$RANDOM" >/dev/null 2>&1
	"${GEN%/*}/gentree" create tree 300 "$RANDOM" >/dev/null 2>&1
	check "store init creates the store (and what holds it)" lb store init "$url" --encrypt
	expect 2 "*already a store*" "a second store init is refused" lb store init "$url" --encrypt
	out=$(lb sync img --store "$url" --as vm/disk --json 2>&1) && pass "sync of an image" || fail "sync of an image" "$out"
	echo "$out" >all-output
	out=$(lb sync tree --store "$url" --as vm/www --json 2>&1) && pass "sync of a tree" || fail "sync of a tree" "$out"
	echo "$out" >>all-output
	$GEN mutate img 3 >/dev/null 2>&1
	echo changed >>tree/new-file
	check "incremental sync of the image" lb sync img --store "$url" --as vm/disk
	check "incremental sync of the tree" lb sync tree --store "$url" --as vm/www
	out=$(lb points --store "$url" --json 2>&1)
	echo "$out" >>all-output
	[ "$($PYTHON -c 'import json,sys; print(len(json.load(sys.stdin)))' <<<"$out")" = 4 ] && pass "points lists the 4 points" ||
		fail "points lists the 4 points" "$out"
	lb restore --store "$url" vm/disk img.out >>all-output 2>&1
	check "the image restores bit-exact" cmp img img.out
	lb restore --store "$url" vm/www tree.out >>all-output 2>&1
	check "the tree restores bit-exact" diff -r tree tree.out
	cp img.out img.old
	lb restore --store "$url" "vm/disk@$(lb points --store "$url" vm/disk --json | $PYTHON -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')" \
		img.first >>all-output 2>&1
	lb restore --store "$url" vm/disk img.first --delta --json >delta.json 2>&1
	check "restore --delta brings an old copy up to date" cmp img img.first
	check "verify --full finds the store sound" lb verify --store "$url" --full
	out=$(lb prune --store "$url" --keep-last 1 --json 2>&1)
	echo "$out" >>all-output
	[[ $out == *'"points_forgotten":2'* ]] && pass "prune forgets the older points" || fail "prune forgets the older points" "$out"
	check "verify --full after prune" lb verify --store "$url" --full
	rm -rf tree.out
	lb restore --store "$url" vm/www tree.out >>all-output 2>&1
	check "the kept tree point still restores" diff -r tree tree.out
	if grep -qF -- "$secret" all-output delta.json; then fail "no credential in any output"; else pass "no credential in any output"; fi
	unset LIFEBOAT_PASSPHRASE
	expect 2 "*encrypted*" "without the key, a clear refusal" lb points --store "$url"
}
