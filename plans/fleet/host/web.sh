#!/bin/sh
# web.sh, installed on each host as /srv/bin/web.sh: nginx serving WWW/site.
#   web.sh start WWW PORT   nginx in the foreground on PORT
#   web.sh stop WWW         stops it (nothing to do when it is down)
set -e
W=$2
case $1 in
start)
	mkdir -p "$W/run/tmp"
	cat > "$W/run/nginx.conf" <<CFG
user root; worker_processes 1; daemon off; pid $W/run/nginx.pid; error_log $W/run/error.log;
events { worker_connections 64; }
http {
  include /etc/nginx/mime.types; access_log $W/run/access.log;
  client_body_temp_path $W/run/tmp/body; proxy_temp_path $W/run/tmp/proxy; fastcgi_temp_path $W/run/tmp/fcgi;
  uwsgi_temp_path $W/run/tmp/uwsgi; scgi_temp_path $W/run/tmp/scgi;
  server { listen $3; root $W/site; index index.html; }
}
CFG
	exec nginx -c "$W/run/nginx.conf" ;;
stop) [ -f "$W/run/nginx.pid" ] || exit 0; kill "$(cat "$W/run/nginx.pid")" 2>/dev/null || true
	for i in $(seq 50); do [ -f "$W/run/nginx.pid" ] || exit 0; sleep 0.1; done; exit 1 ;;
*) echo "usage: web.sh start|stop ..." >&2; exit 2 ;;
esac
