#!/usr/bin/env bash
# The http API against a real nginx (methods, headers, bodies, status,
# TLS verification), and secrets: from the environment or a 0600 file,
# never in output, logs or the journal.
. "$(dirname "$0")/lib.sh"
. "$E2E_DIR/lib_nginx.sh"
start_nginx || exit 1

cat > http.lua <<'LUA'
local T = { n = 0 }
local function ok(c, d, x) T.n = T.n + 1; print((c and "ok " or "not ok ") .. T.n .. " - " .. d); if not c then print("#   " .. tostring(x)) end end
local base, tls, cert = arg[1], arg[2], arg[3]
local r = http.get(base .. "/json")
ok(r.status == 200 and r.json().n == 3 and r.headers["x-test"] == "yes", "GET: status, JSON body, headers", r.body)
r = http.put(base .. "/dav/a/b.txt", "payload ünïcode", { headers = { ["X-Any"] = "1" } })
ok(r.status == 201, "PUT with a body", r.status)
ok(http.get(base .. "/dav/a/b.txt").body == "payload ünïcode", "the body arrived intact")
r = http { url = base .. "/dav/c.json", method = "PUT", body = { k = "v" } }
ok(http.get(base .. "/dav/c.json").body == '{"k":"v"}', "a table body is sent as JSON")
ok(http.get(base .. "/status/418").status == 418, "status codes come back as they are")
ok(http.delete(base .. "/dav/a/b.txt").status == 204, "DELETE")
local e1 = select(2, pcall(http.get, tls .. "/json"))
ok(tostring(e1):find("certificate", 1, true), "TLS is verified by default: a self-signed server is refused", e1)
ok(http.get(tls .. "/json", { cacert = cert }).status == 200, "TLS with the server's CA file")
ok(http.get(tls .. "/json", { verify = false }).status == 200, "verify = false skips the check")
local e2 = select(2, pcall(http.get, "http://127.0.0.1:1/"))
ok(tostring(e2):find("127.0.0.1:1", 1, true), "a refused connection raises and names the URL", e2)
local t0 = now()
local e3 = select(2, pcall(http.get, "http://127.0.0.1:" .. arg[4] .. "/", { timeout = "300ms" }))
ok(e3 and now() - t0 < 3, "timeout (a server that never answers)", e3)
local e4 = select(2, pcall(http.get, base .. "/json", { headers = { ["X-A"] = "v\r\nX-Injected: 1" } }))
ok(tostring(e4):find("header X-A holds a line break", 1, true), "a header value that would start another header is refused", e4)
local e5 = select(2, pcall(http, { url = base .. "/json", method = "GET /x HTTP/1.1\r\nX: y\r\n\r\nGET" }))
ok(tostring(e5):find("method must be a word", 1, true), "a method that would write its own request line is refused", e5)
local e6 = select(2, pcall(http.get, base .. "/json", { headers = { ["X-B: 1\r\nX-C"] = "v" } }))
ok(tostring(e6):find("is not a header name", 1, true), "a header name with a line break is refused", e6)
LUA
# a server that takes connections and never answers (for the timeout)
python3 -c 'import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(16)
print(s.getsockname()[1], flush=True); time.sleep(120)' > silent.port &
SILENT=$!
for _ in $(seq 50); do [ -s silent.port ] && break; sleep 0.1; done
lb run http.lua "http://127.0.0.1:$NGX_PORT" "https://127.0.0.1:$NGX_TLS_PORT" "$NGX_DIR/cert.pem" "$(cat silent.port)" > http.out 2>&1
kill $SILENT 2>/dev/null; wait $SILENT 2>/dev/null
cat http.out | grep -E '^(not )?ok' | sed "s/^\(not \)\{0,1\}ok [0-9]*/&/" > http.tap
while read -r line; do
	case $line in "ok "*) pass "http: ${line#ok * - }";; "not ok "*) fail "http: ${line#not ok * - }" "$(cat http.out)";; esac
done < http.tap
[ "$(wc -l < http.tap)" -ge 14 ] || fail "http script ran to the end" "$(cat http.out)"

# secrets
SECRET_ENV=s3cr3t-from-env-$RANDOM
SECRET_FILE=file-secret-$RANDOM
cat > plan.yaml <<YAML
lifeboat: 1
name: secrets
secrets: { file: secrets.env }
machines:
  m:
    prepare:
      - exec: echo "token=\${{ secret.API_TOKEN }}"
      - lua: log("db password is %s", secret("DB_PASSWORD"))
      - http: http://127.0.0.1:$NGX_PORT/dav/s.txt
        method: PUT
        body: \${{ secret.API_TOKEN }}
        expect: 201
      - exec: echo "\${{ secret.DB_PASSWORD }}" >&2; exit 1
        on_error: continue
groups:
  - name: g
    machines: [m]
YAML
printf 'DB_PASSWORD=%s\n' "$SECRET_FILE" > secrets.env
chmod 644 secrets.env
out=$(LIFEBOAT_SECRET_API_TOKEN=$SECRET_ENV lb drill plan.yaml 2>&1); rc=$?
[ "$rc" = 2 ] && [[ $out == *"secrets file"*"must be mode 0600"* ]] && pass "a secrets file readable by others is refused" \
	|| fail "secrets file mode" "exit $rc" "$out"
chmod 600 secrets.env
out=$(lb drill plan.yaml --dry-run 2>&1); rc=$?
[ "$rc" = 2 ] && [[ $out == *"secret 'API_TOKEN' is not set"* ]] && pass "dry run: preflight names a missing secret" \
	|| fail "preflight secret" "exit $rc" "$out"
out=$(LIFEBOAT_SECRET_API_TOKEN=$SECRET_ENV lb drill plan.yaml 2>&1); rc=$?
[ "$rc" = 1 ] && [[ $out == *"done with failures"*"g/m/prepare/4 failed"* ]] \
	&& pass "a plan using secrets runs (its on_error: continue step failing as planned: exit 1)" || fail "secrets run" "exit $rc" "$out"
[ "$(cat "$NGX_DIR/www/dav/s.txt")" = "$SECRET_ENV" ] && pass "the secret's value reached the server" || fail "secret value sent"
[[ $out == *"db password is ***"* ]] && pass "output shows *** for secrets" || fail "output redaction" "$out"
leaks=$(grep -rl -e "$SECRET_ENV" -e "$SECRET_FILE" .lifeboat; printf '%s' "$out" | grep -c -e "$SECRET_ENV" -e "$SECRET_FILE")
[ "$leaks" = 0 ] && pass "no secret value in output, journal or step logs" || fail "secret leaked" "$leaks"
grep -rq 'token=\*\*\*' .lifeboat/jobs/*/logs && pass "step logs have *** where the secret was" || fail "log redaction"
