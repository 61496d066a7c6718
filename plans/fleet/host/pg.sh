#!/bin/sh
# pg.sh, installed on each host as /srv/bin/pg.sh: PostgreSQL 15 as the
# postgres user, listening on every address of the host.
#   pg.sh start PORT PGDATA    the server in the foreground
#   pg.sh stop PGDATA          fast shutdown (nothing to do when it is down)
#   pg.sh sql PORT SQL         SQL in the shop database, on this host
#   pg.sh init PGDATA          a new cluster that trusts the lab's networks
set -e
cd /
BIN=/usr/lib/postgresql/15/bin
# setpriv execs (no process in between), so stopping the started process stops postgres
as_pg() { setpriv --reuid=postgres --regid=postgres --init-groups "$@"; }
case $1 in
start) as_pg $BIN/postgres -D "$3" -p "$2" -c listen_addresses='*' -c unix_socket_directories= \
	-c fsync=off -c synchronous_commit=off -c full_page_writes=off ;;
stop) [ -f "$2/postmaster.pid" ] || exit 0; as_pg $BIN/pg_ctl -D "$2" -m fast -w -t 30 stop ;;
sql) psql -X -q -A -t -h 127.0.0.1 -p "$2" -U postgres -d shop -v ON_ERROR_STOP=1 -c "$3" ;;
init)
	mkdir -p "$2"; chown postgres: "$2"; chmod 700 "$2"
	as_pg $BIN/initdb -D "$2" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 --no-sync >/dev/null
	echo "host all all 10.233.0.0/16 trust" >> "$2/pg_hba.conf" ;;
*) echo "usage: pg.sh start|stop|sql|init ..." >&2; exit 2 ;;
esac
