#!/bin/sh
# lab.sh up|down: the hosts of plan.yaml, on this machine. Each host is a
# network namespace (lbfl-NAME) with its own address and its own sshd,
# started in a mount namespace of its own where /srv is the host's private
# folder (lab/hosts/NAME/srv): what one host writes to /srv no other sees.
#   primary   10.233.1.0/24   db 10.233.1.10 (PostgreSQL), web 10.233.1.11 (nginx)
#   recovery  10.233.2.0/24   db2 10.233.2.10, web2 10.233.2.11 (the same software, no data)
#   store     10.233.3.10     an S3 server (s3rver, https), the replica store
# A router namespace (lbfl-rt) joins the three networks and this machine
# (10.233.0.1, route 10.233.0.0/16). Every host accepts the lab's key
# (lab/keys/id_ed25519; host keys in lab/keys/known_hosts). The store's
# credentials and certificate are in lab/env: `. lab/env` before running lifeboat.
# `down` stops every process of the lab and removes it.
set -eu
cd "$(dirname "$0")"
HERE=$(pwd)
LAB=$HERE/lab
HOSTS="db web db2 web2 store"
NPM_DIR=${LIFEBOAT_NPM_DIR:-$HERE/.npm} # where s3rver is installed (once)

addr() { case $1 in db) echo 10.233.1.10 ;; web) echo 10.233.1.11 ;; db2) echo 10.233.2.10 ;;
	web2) echo 10.233.2.11 ;; store) echo 10.233.3.10 ;; esac; }
bridge() { case $1 in db|web) echo brp ;; db2|web2) echo brr ;; store) echo brs ;; esac; }
have_ns() { ip netns list | grep -qx "$1\( .*\)\?"; }

down() {
	for ns in $(for h in $HOSTS; do echo lbfl-$h; done) lbfl-rt; do
		if have_ns "$ns"; then
			ip netns pids "$ns" | xargs -r kill -9 2>/dev/null || true
			ip netns del "$ns"
		fi
	done
	ip link del lbfl0 2>/dev/null || true
	rm -rf "$LAB" "$HERE/.lifeboat"
}

case ${1:-up} in
down) down; exit 0 ;;
up) ;;
*) echo "usage: lab.sh up|down" >&2; exit 2 ;;
esac

[ "$(id -u)" = 0 ] || { echo "lab.sh: needs root (network and mount namespaces)" >&2; exit 2; }
case $HERE/ in /srv/*) echo "lab.sh: the lab cannot live under /srv (each host has its own /srv)" >&2; exit 2 ;; esac
[ -d "$LAB" ] && { echo "lab.sh: $LAB exists (sh lab.sh down first)" >&2; exit 2; }
have_ns lbfl-rt && { echo "lab.sh: network namespace lbfl-rt exists (sh lab.sh down first)" >&2; exit 2; }
for t in sshd:openssh-server psql:postgresql-15 nginx:nginx npm:npm; do
	p=${t%%:*}; [ "$p" = sshd ] && p=/usr/sbin/sshd
	command -v "$p" >/dev/null || { echo "lab.sh: ${t%%:*} is missing (Debian package ${t#*:})" >&2; exit 2; }
done
if [ ! -x "$NPM_DIR/node_modules/.bin/s3rver" ]; then
	mkdir -p "$NPM_DIR"
	npm install --prefix "$NPM_DIR" --no-audit --no-fund --loglevel=error s3rver@3.7.1 >"$NPM_DIR/install.log" 2>&1 ||
		{ echo "lab.sh: npm install s3rver failed:" >&2; tail -5 "$NPM_DIR/install.log" >&2; exit 1; }
fi
trap 'down' INT TERM
trap '[ $? = 0 ] || down' EXIT

mkdir -p "$LAB/keys" /run/sshd
ssh-keygen -q -t ed25519 -N '' -C lifeboat-fleet -f "$LAB/keys/id_ed25519"
: > "$LAB/keys/known_hosts"

# the router and this machine's way in
ip netns add lbfl-rt
ip -n lbfl-rt link set lo up
ip netns exec lbfl-rt sysctl -q -w net.ipv4.ip_forward=1
for br in brp:10.233.1.1 brr:10.233.2.1 brs:10.233.3.1; do
	ip -n lbfl-rt link add "${br%%:*}" type bridge
	ip -n lbfl-rt addr add "${br#*:}/24" dev "${br%%:*}"
	ip -n lbfl-rt link set "${br%%:*}" up
done
ip link add lbfl0 type veth peer name up0 netns lbfl-rt
ip addr add 10.233.0.1/30 dev lbfl0
ip link set lbfl0 up
ip -n lbfl-rt addr add 10.233.0.2/30 dev up0
ip -n lbfl-rt link set up0 up
ip route add 10.233.0.0/16 via 10.233.0.2

for h in $HOSTS; do
	ns=lbfl-$h a=$(addr $h) d=$LAB/hosts/$h
	mkdir -p "$d/srv"
	ip netns add "$ns"
	ip -n "$ns" link set lo up
	ip link add "h-$h" netns lbfl-rt type veth peer name eth0 netns "$ns"
	ip -n lbfl-rt link set "h-$h" master "$(bridge $h)" up
	ip -n "$ns" addr add "$a/24" dev eth0
	ip -n "$ns" link set eth0 up
	ip -n "$ns" route add default via "${a%.*}.1"
	ssh-keygen -q -t ed25519 -N '' -f "$d/ssh_host_ed25519_key"
	cat > "$d/sshd_config" <<-CFG
	ListenAddress $a:22
	HostKey $d/ssh_host_ed25519_key
	PidFile $d/sshd.pid
	AuthorizedKeysFile $LAB/keys/id_ed25519.pub
	AllowUsers root
	PermitRootLogin prohibit-password
	PasswordAuthentication no
	KbdInteractiveAuthentication no
	UsePAM no
	StrictModes no
	PermitUserEnvironment yes
	ClientAliveInterval 5
	ClientAliveCountMax 3
	MaxSessions 64
	MaxStartups 64
	Subsystem sftp internal-sftp
	CFG
	# the host's own /srv, for sshd and everything its sessions start
	setsid ip netns exec "$ns" unshare --mount --propagation private sh -c \
		'mount --bind "$1" /srv && exec /usr/sbin/sshd -D -e -f "$2"' sh "$d/srv" "$d/sshd_config" \
		</dev/null >/dev/null 2>"$d/sshd.log" &
	echo "$a $(cut -d' ' -f1,2 "$d/ssh_host_ed25519_key.pub")" >> "$LAB/keys/known_hosts"
done

on() { # on HOST COMMAND: runs COMMAND on the host, over SSH
	h=$1; shift
	ssh -q -i "$LAB/keys/id_ed25519" -o BatchMode=yes -o UserKnownHostsFile="$LAB/keys/known_hosts" \
		-o StrictHostKeyChecking=yes -o ConnectTimeout=5 "root@$(addr "$h")" "$@"
}
for h in $HOSTS; do
	i=0
	until on $h true 2>/dev/null; do
		i=$((i + 1)); [ $i -lt 100 ] || { echo "lab.sh: sshd of $h does not answer:" >&2; tail -3 "$LAB/hosts/$h/sshd.log" >&2; exit 1; }
		sleep 0.1
	done
done

# software every application host has: the start and stop scripts (in its /srv)
for h in db web db2 web2; do
	install -D -m 755 -t "$LAB/hosts/$h/srv/bin" host/pg.sh host/web.sh
done

# the store: S3 over https, with a certificate of the lab's own
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 30 -subj /CN=10.233.3.10 \
	-addext "subjectAltName=IP:10.233.3.10" -keyout "$LAB/keys/s3-key.pem" -out "$LAB/keys/s3-ca.pem" 2>/dev/null
ip netns exec lbfl-store setsid "$NPM_DIR/node_modules/.bin/s3rver" -d "$LAB/hosts/store/srv" \
	-a 10.233.3.10 -p 9000 --key "$LAB/keys/s3-key.pem" --cert "$LAB/keys/s3-ca.pem" --silent \
	</dev/null >"$LAB/hosts/store/s3rver.log" 2>&1 &
cat > "$LAB/env" <<ENV
export AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER AWS_REGION=us-east-1
export AWS_ENDPOINT_URL=https://10.233.3.10:9000 AWS_CA_BUNDLE=$LAB/keys/s3-ca.pem
ENV
for i in $(seq 200); do curl -s -o /dev/null --max-time 1 --cacert "$LAB/keys/s3-ca.pem" https://10.233.3.10:9000/ && break; sleep 0.1; done

# the primary: the shop's database and its web server
on db 'sh /srv/bin/pg.sh init /srv/pgdata || exit 1
	setsid sh /srv/bin/pg.sh start 5432 /srv/pgdata >/srv/postgres.log 2>&1 </dev/null &
	for i in $(seq 150); do psql -X -q -h 127.0.0.1 -U postgres -d postgres -c "select 1" >/dev/null 2>&1 && break; sleep 0.1; done
	psql -X -q -h 127.0.0.1 -U postgres -d postgres -c "create database shop" &&
	sh /srv/bin/pg.sh sql 5432 "create table orders (id serial primary key, item text not null, at timestamptz not null default now())" &&
	sh /srv/bin/pg.sh sql 5432 "insert into orders (item) values ('"'"'order 1'"'"'), ('"'"'order 2'"'"')"'
on web 'mkdir -p /srv/www/site && echo "<h1>Fleet shop</h1>" > /srv/www/site/index.html || exit 1
	echo DB_HOST=10.233.1.10 > /srv/www/site/app.env
	setsid sh /srv/bin/web.sh start /srv/www 8080 >/srv/nginx.log 2>&1 </dev/null &
	for i in $(seq 100); do curl -s -o /dev/null http://127.0.0.1:8080/ && exit 0; sleep 0.1; done; exit 1'
echo "lab: db 10.233.1.10, web 10.233.1.11 serving; recovery hosts db2 10.233.2.10, web2 10.233.2.11; store s3://fleet (. lab/env)"
