# lib_nginx.sh — starts a real nginx on 127.0.0.1 for a test: HTTP on
# $NGX_PORT, HTTPS on $NGX_TLS_PORT (self-signed, $NGX_DIR/cert.pem), a
# WebDAV folder under /dav/, /status/418 answering 418, /json answering JSON.
# Source it after lib.sh; nginx is stopped when the test exits.
start_nginx() {
	NGX_DIR=$WORK/nginx
	NGX_PORT=$(( 20000 + RANDOM % 20000 ))
	NGX_TLS_PORT=$(( NGX_PORT + 1 ))
	mkdir -p "$NGX_DIR/www/dav" "$NGX_DIR/tmp"
	echo hello > "$NGX_DIR/www/index.html"
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj /CN=127.0.0.1 \
		-addext "subjectAltName=IP:127.0.0.1" -keyout "$NGX_DIR/key.pem" -out "$NGX_DIR/cert.pem" 2>/dev/null
	cat > "$NGX_DIR/nginx.conf" <<CFG
$([ "$(id -u)" = 0 ] && echo 'user root;')
worker_processes 1; daemon off; pid $NGX_DIR/nginx.pid; error_log $NGX_DIR/error.log;
events { worker_connections 64; }
http { include /etc/nginx/mime.types; access_log $NGX_DIR/access.log;
  client_body_temp_path $NGX_DIR/tmp/body; proxy_temp_path $NGX_DIR/tmp/proxy; fastcgi_temp_path $NGX_DIR/tmp/fcgi;
  uwsgi_temp_path $NGX_DIR/tmp/uwsgi; scgi_temp_path $NGX_DIR/tmp/scgi;
  server { listen 127.0.0.1:$NGX_PORT; listen 127.0.0.1:$NGX_TLS_PORT ssl;
    ssl_certificate $NGX_DIR/cert.pem; ssl_certificate_key $NGX_DIR/key.pem; root $NGX_DIR/www;
    location /dav/ { dav_methods PUT DELETE; create_full_put_path on; }
    location = /status/418 { return 418; }
    location = /json { default_type application/json; add_header X-Test yes; return 200 '{"ok":true,"n":3}'; } } }
CFG
	nginx -p "$NGX_DIR" -e "$NGX_DIR/error.log" -c "$NGX_DIR/nginx.conf" </dev/null >/dev/null 2>&1 &
	NGX_PID=$!
	for _ in $(seq 50); do curl -s "http://127.0.0.1:$NGX_PORT/" >/dev/null && return 0; sleep 0.1; done
	echo "not ok - nginx did not start"; cat "$NGX_DIR/error.log"; return 1
}
stop_nginx() { [ -n "${NGX_PID:-}" ] && kill "$NGX_PID" 2>/dev/null && wait "$NGX_PID" 2>/dev/null; NGX_PID=; }
trap 'stop_nginx; cleanup_work' EXIT
