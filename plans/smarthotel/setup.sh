#!/bin/sh
# setup.sh [up|down]: creates the primary site (site-a) beside this script
# and starts it: a PostgreSQL cluster with the hotel database, and the web
# app (nginx + PHP-FPM) reading it. `down` stops every server of every site.
set -e
cd "$(dirname "$0")"
HERE=$(pwd)
A=$HERE/site-a
case ${1:-up} in
down)
	for s in site-a site-b site-drill; do
		[ -d $s/web/www ] && sh $s/web/www/stop.sh 2>/dev/null || true
		[ -f $s/db/pgdata/postmaster.pid ] && sh pg.sh stop 0 $s/db/pgdata >/dev/null 2>&1 || true
	done
	exit 0 ;;
esac
[ -d "$A" ] && { echo "setup.sh: $A exists" >&2; exit 2; }
for port in 15432 18080 19000 16432 19080 20000 17432 20080 21000; do
	rc=0; curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$port/" || rc=$?
	[ $rc = 7 ] || { echo "setup.sh: port $port on 127.0.0.1 is in use (another smarthotel? 'sh setup.sh down' in its folder)" >&2; exit 2; }
done
chmod 755 "$HERE"
mkdir -p "$A/db" "$A/web/www/conf" "$A/web/www/app"
sh pg.sh init "$A/db/pgdata"
setsid sh pg.sh start 15432 "$A/db/pgdata" > "$A/db/postgres.log" 2>&1 < /dev/null &
for i in $(seq 150); do psql -X -q -h 127.0.0.1 -p 15432 -U postgres -d postgres -c "select 1" >/dev/null 2>&1 && break
	sleep 0.1; done
psql -X -q -h 127.0.0.1 -p 15432 -U postgres -d postgres -c "create database hotel"
sh pg.sh sql 15432 "create table bookings (id serial primary key, guest text not null, room int not null,
	night date not null, created timestamptz not null default now())"
sh pg.sh sql 15432 "insert into bookings (guest, room, night) values ('Ada Lovelace', 101, '2026-12-24'),
	('Alan Turing', 102, '2026-12-25')"

W=$A/web/www
cp app/index.php "$W/app/"
printf '[database]\nhost = 127.0.0.1\nport = 15432\nname = hotel\nuser = postgres\n' > "$W/app/config.ini"
printf '{\n  "name": "primary",\n  "app": "smarthotel"\n}\n' > "$W/app/site.json"
ROOT_USER=""; [ "$(id -u)" = 0 ] && ROOT_USER="user root;"
cat > "$W/conf/nginx.conf" <<CFG
$ROOT_USER
worker_processes 1; daemon off; pid run/nginx.pid; error_log logs/error.log;
events { worker_connections 64; }
http {
  include /etc/nginx/mime.types; access_log logs/access.log;
  client_body_temp_path tmp/body; proxy_temp_path tmp/proxy; fastcgi_temp_path tmp/fcgi;
  uwsgi_temp_path tmp/uwsgi; scgi_temp_path tmp/scgi;
  server {
    listen 127.0.0.1:18080;
    root app; index index.php;
    location ~ \.php\$ {
      include /etc/nginx/fastcgi_params;
      fastcgi_param SCRIPT_FILENAME \$document_root\$fastcgi_script_name;
      fastcgi_pass 127.0.0.1:19000;
    }
  }
}
CFG
POOL_USER=""; [ "$(id -u)" = 0 ] && POOL_USER="user = root
group = root"
cat > "$W/conf/php-fpm.conf" <<CFG
[global]
pid = run/php-fpm.pid
error_log = logs/php-fpm.log
daemonize = no

[www]
$POOL_USER
listen = 127.0.0.1:19000
pm = static
pm.max_children = 2
CFG
cat > "$W/run.sh" <<'SH'
#!/bin/sh
# run.sh: PHP-FPM and nginx in the foreground, from this folder.
DIR=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$DIR/run" "$DIR/logs" "$DIR/tmp"
R=""; [ "$(id -u)" = 0 ] && R=-R
php-fpm8.2 -F $R -p "$DIR/" -y "$DIR/conf/php-fpm.conf" &
nginx -p "$DIR/" -c conf/nginx.conf -e logs/error.log &
trap 'kill $(jobs -p) 2>/dev/null; wait' TERM INT
wait
SH
cat > "$W/stop.sh" <<'SH'
#!/bin/sh
# stop.sh: stops the nginx and PHP-FPM that run.sh started here.
DIR=$(cd "$(dirname "$0")" && pwd)
for f in "$DIR/run/nginx.pid" "$DIR/run/php-fpm.pid"; do
	[ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null
done
for i in $(seq 50); do
	[ -f "$DIR/run/nginx.pid" ] || [ -f "$DIR/run/php-fpm.pid" ] || exit 0; sleep 0.1
done
SH
setsid sh "$W/run.sh" > "$A/web/run.log" 2>&1 < /dev/null &
for i in $(seq 100); do curl -sf http://127.0.0.1:18080/ >/dev/null && break; sleep 0.1; done
curl -sf http://127.0.0.1:18080/ | grep -q "Served from site: primary" || { echo "setup.sh: the web app did not come up" >&2; exit 1; }
echo "primary site up: http://127.0.0.1:18080/ (PostgreSQL on 127.0.0.1:15432)"
