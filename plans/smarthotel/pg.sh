#!/bin/sh
# pg.sh: PostgreSQL 15 for the sample, as the postgres user when run as root.
#   pg.sh start PORT PGDATA    the server in the foreground (TCP on 127.0.0.1 only)
#   pg.sh stop PORT PGDATA     fast shutdown
#   pg.sh sql PORT SQL         run SQL in the hotel database
#   pg.sh init PGDATA          a new cluster
set -e
BIN=/usr/lib/postgresql/15/bin
cmd=$1 port=$2
# setpriv execs (no process in between), so stopping the started process stops postgres
as_pg() { if [ "$(id -u)" = 0 ]; then setpriv --reuid=postgres --regid=postgres --init-groups "$@"; else "$@"; fi; }
case $cmd in
start) as_pg $BIN/postgres -D "$3" -p "$port" -c listen_addresses=127.0.0.1 -c unix_socket_directories= \
	-c fsync=off -c synchronous_commit=off -c full_page_writes=off ;;
stop) [ -f "$3/postmaster.pid" ] || exit 0; as_pg $BIN/pg_ctl -D "$3" -m fast -w -t 30 stop ;;
sql) psql -X -q -A -t -h 127.0.0.1 -p "$port" -U postgres -d hotel -v ON_ERROR_STOP=1 -c "$3" ;;
init)
	mkdir -p "$2"; [ "$(id -u)" = 0 ] && chown postgres: "$2"; chmod 700 "$2"
	as_pg $BIN/initdb -D "$2" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 --no-sync >/dev/null ;;
*) echo "usage: pg.sh start|stop|sql|init ..." >&2; exit 2 ;;
esac
