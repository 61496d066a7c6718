#!/usr/bin/env bash
# Secrets and ${{ }} values against the shell and the files a job writes:
# a value is never parsed by the shell (exec steps and health checks, a
# machine's start, stop and quiesce commands), children get a clean
# environment, and a secret with characters that need escaping is
# redacted in the journal, the step logs, the output and every report.
. "$(dirname "$0")/lib.sh"

EVIL='x"; touch INJECTED; echo "'"'"'; touch INJECTED2; `touch INJECTED3` $(touch INJECTED4)'
export EVIL
no_injection() { [ -z "$(find "$WORK" -name 'INJECTED*')" ]; }

# --- 1. values in commands stay data ---------------------------------
mkdir -p site-a/m/data site-d
cat > plan.yaml <<'YAML'
lifeboat: 1
name: quoting
store: replica
vars:
  port: 5432
  path: "dir with spaces"
sites:
  primary: { provider: local, root: site-a }
  recovery: { provider: local, root: site-b }
  drill: { provider: local, root: site-d }
machines:
  m:
    datasets:
      - { name: data, kind: tree, path: data }
    quiesce:
      before: echo ${{ env.EVIL }} > quiesce.out
      after: echo "${{ env.EVIL }}" > thaw.out
    start: echo ${{ env.EVIL }} > ../start.out; exec sleep 30
    stop: echo '${{ env.EVIL }}' > ../stop.out
    prepare:
      - exec: echo "${{ env.EVIL }}" > dq.out
      - exec: echo '${{ env.EVIL }}' > sq.out
      - exec: echo ${{ env.EVIL }} > bare.out
      - exec: echo "$(echo ${{ env.EVIL }})" > sub.out
      - exec: echo `echo ${{ env.EVIL }}` > bt.out
      - exec: printf '%s|' -o "-p ${{ vars.port }}" ${{ vars.path }}/x > port.out
      - exec: echo $(( ${{ vars.port }} + 1 )) > arith.out
      - exec: |
          # a comment that isn't closed: it's
          cat > here.out <<EOF
          ${{ env.EVIL }}
          EOF
      - exec: [sh, -c, 'printf "%s" "$1" > argv.out', sh, "${{ env.EVIL }}"]
    health:
      - exec: echo ${{ env.EVIL }} > health.out
groups:
  - name: g
    machines: [m]
YAML
echo data > site-a/m/data/f
lb replicate plan.yaml --app >rep.out 2>&1 || fail "replicate with quiesce hooks ran" "$(cat rep.out)"
out=$(lb drill plan.yaml --keep 2>&1); rc=$?
[ "$rc" = 0 ] && pass "a drill whose commands hold hostile values runs" || fail "drill ran" "exit $rc" "$out"
no_injection && pass "no value was parsed by the shell (nothing INJECTED)" || fail "injection" "$(find "$WORK" -name 'INJECTED*')"
for f in dq sq bare sub here; do
	[ "$(cat $f.out 2>/dev/null)" = "$EVIL" ] && pass "exec: the value arrives intact ($f)" || fail "exec value ($f)" "$(cat $f.out 2>&1)"
done
[ "$(cat bt.out 2>/dev/null)" = "$EVIL" ] && pass "exec: the value arrives intact (backticks)" || fail "exec value (backticks)" "$(cat bt.out 2>&1)"
[ "$(cat argv.out 2>/dev/null)" = "$EVIL" ] && pass "exec: an argv list passes the value as one argument" || fail "argv" "$(cat argv.out 2>&1)"
[ "$(cat port.out 2>/dev/null)" = "-o|-p 5432|dir with spaces/x|" ] && pass "exec: a value inside a quoted word and a bare value with spaces" \
	|| fail "quoted word" "$(cat port.out 2>&1)"
[ "$(cat arith.out 2>/dev/null)" = 5433 ] && pass "exec: a number in \$(( ))" || fail "arith" "$(cat arith.out 2>&1)"
lb cleanup plan.yaml >/dev/null 2>&1
for f in quiesce thaw start stop health; do
	[ "$(cat $f.out 2>/dev/null)" = "$EVIL" ] && pass "$f command: the value arrives intact" \
		|| fail "$f command value" "$(cat $f.out 2>&1)"
done
grep -rqF 'touch INJECTED; echo' .lifeboat/jobs/*/logs && pass "step logs show the command with its values" \
	|| fail "step logs show values" "$(cat .lifeboat/jobs/*/logs/*prepare-1.log 2>&1 | head -5)"

cat > bad.yaml <<'YAML'
lifeboat: 1
name: arith
machines:
  m: { prepare: [ { exec: "echo $(( ${{ env.EVIL }} ))" } ] }
groups: [ { name: g, machines: [m] } ]
YAML
out=$(lb drill bad.yaml 2>&1); rc=$?
[ "$rc" = 1 ] && [[ $out == *"must be a whole number"* ]] && no_injection && pass "a value that is not a number in \$(( )) is refused" \
	|| fail "arith refusal" "exit $rc" "$out"

# --- 2. children get a clean environment -------------------------------
cat > env.yaml <<'YAML'
lifeboat: 1
name: env
machines:
  m:
    prepare:
      - exec: env > ../env.out
      - exec: env > ../env-asked.out
        env: { TOKEN_FOR_CHILD: "${{ secret.TOKEN }}", PASSED: "${{ env.AWS_SECRET_ACCESS_KEY }}" }
      - exec: echo "token is ${{ env.LIFEBOAT_SECRET_TOKEN }}"
      - lua: log("aws key is %s", os.getenv("AWS_SECRET_ACCESS_KEY"))
      - lua: for k, v in pairs(env) do if k == "AZURE_STORAGE_KEY" then log("azure key is " .. v) end end
groups: [ { name: g, machines: [m] } ]
YAML
mkdir envrun && cd envrun || exit 1
cp ../env.yaml plan.yaml
TOK=tok-$RANDOM-secret AWSK=aws-$RANDOM-secret AZK=azure-$RANDOM-secret PASS=pass-$RANDOM-secret
out=$(LIFEBOAT_SECRET_TOKEN=$TOK LIFEBOAT_PASSPHRASE=$PASS LIFEBOAT_KEY_FILE=/nonexistent/key AWS_ACCESS_KEY_ID=AKIA$RANDOM \
	AWS_SECRET_ACCESS_KEY=$AWSK AWS_SESSION_TOKEN=sess-$RANDOM AZURE_STORAGE_KEY=$AZK LIFEBOAT_SSH_KEY=ssh-$RANDOM \
	LIFEBOAT_SECRETS_FILE=/nonexistent/secrets lb drill plan.yaml 2>&1); rc=$?
[ "$rc" = 0 ] && pass "a plan reading secrets through env runs" || fail "env plan" "exit $rc" "$out"
leaked=$(grep -E '^(LIFEBOAT_SECRET_|LIFEBOAT_PASSPHRASE|LIFEBOAT_KEY_FILE|LIFEBOAT_SECRETS_FILE|LIFEBOAT_SSH_KEY|AWS_|AZURE_STORAGE_)' ../env.out)
[ -z "$leaked" ] && pass "no secret or store credential reaches an exec step's environment" || fail "env leak" "$leaked"
grep -q '^PATH=' ../env.out && grep -q '^HOME=' ../env.out && pass "PATH and HOME do" || fail "clean base" "$(cat ../env.out)"
grep -qx "TOKEN_FOR_CHILD=$TOK" ../env-asked.out && grep -qx "PASSED=$AWSK" ../env-asked.out \
	&& pass "what a step's env asks for reaches it" || fail "env asked" "$(cat ../env-asked.out)"
[[ $(cat .lifeboat/jobs/*/logs/g_m_prepare_3.log) == *"token is ***"* && $out == *"aws key is ***"* && $out == *"azure key is ***"* ]] \
	&& pass "secrets read through env and os.getenv are redacted" || fail "env redaction" "$out"
leaks=$(grep -rlF -e "$TOK" -e "$AWSK" -e "$AZK" .lifeboat; printf '%s' "$out" | grep -cF -e "$TOK" -e "$AWSK" -e "$AZK")
[ "$leaks" = 0 ] && pass "no secret read through env in the output, journal or logs" || fail "env secrets leaked" "$leaks"
cd .. || exit 1

# --- 3. secrets that need escaping are redacted everywhere ----------------
mkdir tricky && cd tricky || exit 1
cat > plan.yaml <<'YAML'
lifeboat: 1
name: tricky
sites:
  primary: { provider: local, root: a }
  recovery: { provider: local, root: b }
  drill: { provider: local, root: d }
machines:
  m:
    prepare:
      - lua: log("the secret is %s", secret.TRICKY)
      - lua: error("failed with " .. secret.TRICKY)
        on_error: continue
      - exec: echo "${{ secret.TRICKY }}"; exit 3
        on_error: continue
      - exec: echo '${{ secret.TRICKY }}' >&2; exit 4
        on_error: continue
      - lua: return { value = secret.TRICKY, [secret.TRICKY] = 1 }
    health:
      - lua: error(secret.TRICKY)
        within: 300ms
        every: 100ms
groups: [ { name: g, machines: [m] } ]
YAML
# markers at both ends: any form of the secret, whole or cut, shows one of them
TRICKY=$(printf 'Qz7START & " < > '"'"' | \\ $x `y`\nsecond line %s Qz7END' "$RANDOM")
out=$(LIFEBOAT_SECRET_TRICKY=$TRICKY lb drill plan.yaml --json 2>&1); rc=$?
[ "$rc" = 1 ] && pass "the drill ran (and failed its health check)" || fail "tricky drill" "exit $rc" "$out"
J=$(ls .lifeboat/jobs | tail -1)
for f in journal.jsonl report.json report.md junit.xml report.html; do
	[ -s ".lifeboat/jobs/$J/$f" ] || { fail "$f written" "$(ls .lifeboat/jobs/$J)"; continue; }
	grep -qE 'Qz7(START|END)' ".lifeboat/jobs/$J/$f" && fail "$f: the secret leaked" "$(grep -E 'Qz7(START|END)' ".lifeboat/jobs/$J/$f" | head -3)" \
		|| pass "$f: no form of the secret"
done
grep -rqE 'Qz7(START|END)' ".lifeboat/jobs/$J/logs" && fail "step logs: the secret leaked" "$(grep -rE 'Qz7(START|END)' ".lifeboat/jobs/$J/logs" | head -3)" \
	|| pass "step logs: no form of the secret"
printf '%s' "$out" | grep -qE 'Qz7(START|END)' && fail "--json output: the secret leaked" "$(printf '%s' "$out" | grep -E 'Qz7(START|END)' | head -3)" \
	|| pass "--json output: no form of the secret"
grep -q '\*\*\*' ".lifeboat/jobs/$J/report.html" && grep -q '\*\*\*' ".lifeboat/jobs/$J/journal.jsonl" \
	&& pass "*** stands where the secret was" || fail "*** in reports"
out=$(LIFEBOAT_SECRET_TRICKY=$TRICKY lb job "$J" --json 2>&1)
printf '%s' "$out" | grep -qE 'Qz7(START|END)' && fail "job --json: the secret leaked" || pass "job --json: no form of the secret"

# an action named with an expression: its title is the text (it used to
# stop the job with an internal error, leaving it "running")
cat > named.yaml <<'YAML'
lifeboat: 1
name: named
machines:
  m: { prepare: [ { name: "token ${{ secret.TRICKY }}", lua: "return 1" } ] }
groups: [ { name: g, machines: [m] } ]
YAML
out=$(LIFEBOAT_SECRET_TRICKY=$TRICKY lb drill named.yaml 2>&1); rc=$?
[ "$rc" = 0 ] && [[ $out == *'token ${{ secret.TRICKY }}'* ]] && pass "an action's name with \${{ }} is shown as written" \
	|| fail "named action" "exit $rc" "$out"

# --- 4. a child cannot read the secrets in lifeboat's own environment -----
# (/proc/PPID/environ): lifeboat is not dumpable, so a process of the same
# user is refused its environ and memory. Run as an unprivileged user (root
# reads any process's environ).
if [ "$(id -u)" = 0 ] && id nobody >/dev/null 2>&1; then
	U=$(mktemp -d /tmp/lifeboat-nobody.XXXXXX) && chmod 755 "$U"
	cp "$LB_BIN" "$U/lifeboat"
	cat > "$U/plan.yaml" <<'YAML'
lifeboat: 1
name: parent
machines:
  m: { prepare: [ { exec: "cat /proc/$PPID/environ > parent.env 2> parent.err; exit 0" } ] }
groups: [ { name: g, machines: [m] } ]
YAML
	chown -R nobody: "$U"
	SEC=parent-$RANDOM-secret
	out=$(cd "$U" && LIFEBOAT_SECRET_TOKEN=$SEC LIFEBOAT_PASSPHRASE=$SEC HOME=$U setpriv --reuid=nobody --regid=nogroup --clear-groups \
		./lifeboat drill plan.yaml 2>&1); rc=$?
	[ "$rc" = 0 ] && [ -e "$U/parent.err" ] && pass "a step of a job run by an unprivileged user ran" || fail "drill as nobody" "exit $rc" "$out"
	grep -qF "$SEC" "$U/parent.env" 2>/dev/null && fail "a step read lifeboat's secrets from /proc/PPID/environ" \
		|| pass "a step cannot read lifeboat's secrets from /proc/PPID/environ ($(head -c 80 "$U/parent.err"))"
	rm -rf "$U"
else
	pass "(not root: the unprivileged-user check of /proc/PPID/environ is skipped)"
fi
