#!/usr/bin/env bash
# Plan code that attacks the host during a job: it cannot stop the job
# (cleanup runs, the job ends failed, not "running"), cannot turn
# redaction off or change what other steps see, cannot outlive a step's
# deadline, and every command stops on SIGTERM or Ctrl-C with exit 130.
. "$(dirname "$0")/lib.sh"

job_state() { "$LB_BIN" job "$1" 2>&1 | head -1; }
last_job() { "$LB_BIN" jobs | tail -1 | cut -d" " -f1; }

# --- the host survives ------------------------------------------------------
mkdir -p site-a site-b site-d
cat > plan.yaml <<'YAML'
lifeboat: 1
name: attacks
sites:
  primary: { provider: local, root: site-a }
  recovery: { provider: local, root: site-b }
  drill: { provider: local, root: site-d }
machines:
  m:
    prepare:
      - name: reach the boot module
        lua: require("lifeboat.boot")
        on_error: continue
      - name: turn redaction off through the string metatable
        lua: getmetatable("").__index.find = function() end
        on_error: continue
      - name: turn redaction off through the module
        lua: require("lifeboat.secrets").redact = function(s) return s end
        on_error: continue
      - name: move the site root (the provider removes under it)
        lua: site.root = "/"
        on_error: continue
      - name: move the site root from an expression
        exec: "true ${{ (function() site.root = '/' end)() or '' }}"
        on_error: continue
      - name: an error object whose tostring never ends
        lua: error(setmetatable({}, { __tostring = function() while true do end end }))
        timeout: 500ms
        on_error: continue
      - name: a result the journal cannot hold
        lua: return setmetatable({ f = function() end, n = 1 }, { __index = function() while true do end end })
      - name: a finalizer that never ends
        lua: setmetatable({}, { __gc = function() while true do end end })
        on_error: continue
      - name: log the secret
        lua: log("the secret is %s", secret.TOKEN); log("root is %s", site.root)
groups:
  - name: g
    machines: [m]
YAML
TOKEN=tok-$RANDOM-value
out=$(LIFEBOAT_SECRET_TOKEN=$TOKEN timeout -s KILL 60 "$LB_BIN" drill plan.yaml 2>&1); rc=$?
J=$(last_job)
[ "$rc" = 1 ] && pass "a drill whose steps attack the host finishes (its failed steps: exit 1)" || fail "attack drill" "exit $rc" "$out"
[[ $(job_state "$J") == *", done with failures ("* ]] && pass "the job is done with failures, not left running" || fail "job state" "$(job_state "$J")"
[[ $out == *"done   cleanup/m/remove"* ]] && pass "cleanup ran" || fail "cleanup ran" "$out"
[[ $out == *"the secret is ***"* ]] && ! grep -rqF "$TOKEN" .lifeboat && [[ $out != *"$TOKEN"* ]] \
	&& pass "redaction still works after the attempts to turn it off" || fail "redaction" "$out"
[[ $out == *"root is $PWD/site-d"* ]] && pass "the site root other steps see is unchanged" || fail "site root" "$out"
for step in 1 2 3 4 5 8; do
	grep -q "\"final\":true,\"step\":\"g/m/prepare/$step\"" ".lifeboat/jobs/$J/journal.jsonl" \
		&& pass "attempt $step fails its step" || fail "attempt $step" "$(grep "prepare/$step" ".lifeboat/jobs/$J/journal.jsonl")"
done
grep -q '"final":true,"step":"g/m/prepare/6"' ".lifeboat/jobs/$J/journal.jsonl" \
	&& pass "an error whose tostring never ends fails its step at its deadline" || fail "tostring error"
grep -q '"ev":"done".*"n":1.*"step":"g/m/prepare/7"' ".lifeboat/jobs/$J/journal.jsonl" \
	&& pass "a result with functions and metamethods is journaled as plain data" || fail "odd result" "$(grep prepare/7 ".lifeboat/jobs/$J/journal.jsonl")"
[ -z "$(ls site-d 2>/dev/null)" ] && [ -d site-a ] && pass "nothing outside the drill site was touched" || fail "site contents" "$(ls site-*)"

# a plan's own action gets ctx read-only, and its job's methods still work
mkdir -p own/actions
cat > own/actions/evil.lua <<'LUA'
return { run = function(with, ctx)
  local changed = {}
  if pcall(function() ctx.job.journal = "/tmp/elsewhere" end) then changed[#changed + 1] = "journal" end
  if pcall(function() ctx.site.root = "/" end) then changed[#changed + 1] = "root" end
  if pcall(function() getmetatable(ctx.job).__index.event = function() end end) then changed[#changed + 1] = "Job" end
  if pcall(function() ctx.scope.vars.x = 1 end) then changed[#changed + 1] = "vars" end
  ctx.job:event { ev = "note", text = "from the action" }
  with.mine = true -- its arguments are its own
  return { changed = table.concat(changed, ","), f = function() end }
end }
LUA
cat > own/plan.yaml <<'YAML'
lifeboat: 1
name: own
machines:
  m: { prepare: [ { uses: ./actions/evil.lua }, { lua: "log('job ok')" } ] }
groups: [ { name: g, machines: [m] } ]
YAML
out=$(timeout -s KILL 60 "$LB_BIN" drill own/plan.yaml 2>&1); rc=$?
jl=$(ls own/.lifeboat/jobs/*/journal.jsonl | tail -1)
[ "$rc" = 0 ] && grep -q '"changed":""' "$jl" && pass "a plan's own action cannot change ctx, the job or the scope" \
	|| fail "own action" "exit $rc" "$out" "$(grep prepare/1 "$jl")"
grep -q '"ev":"note","t":[0-9.]*,"text":"from the action"' "$jl" && pass "ctx.job:event still records through the read-only view" \
	|| fail "ctx.job:event" "$(cat "$jl")"

# --- deadlines -------------------------------------------------------------
cat > slow.yaml <<'YAML'
lifeboat: 1
name: slow
machines:
  m:
    prepare:
      - name: a loop in a sort comparator that catches its own timeout
        lua: table.sort({1, 2, 3}, function() while true do pcall(function() while true do end end) end end)
        timeout: 500ms
        on_error: continue
      - name: the same with xpcall and a handler that loops
        lua: |
          table.sort({1, 2, 3}, function()
            while true do xpcall(function() while true do end end, function() while true do end end) end
          end)
        timeout: 500ms
        on_error: continue
      - name: a pcall loop inside gsub
        lua: string.gsub(string.rep("x", 100), ".", function() while true do pcall(function() while true do end end) end end)
        timeout: 500ms
        on_error: continue
      - name: a to-be-closed variable whose close never ends, in a sort comparator
        lua: |
          local x <close> = setmetatable({}, { __close = function() while true do end end })
          table.sort({1, 2, 3}, function() while true do end end)
        timeout: 500ms
        on_error: continue
      - name: the same in a plain loop
        lua: |
          local x <close> = setmetatable({}, { __close = function() while true do end end })
          while true do end
        timeout: 500ms
        on_error: continue
      - name: after them
        lua: log("still here")
groups:
  - name: g
    machines: [m]
YAML
start=$(date +%s)
out=$(timeout -s KILL 30 "$LB_BIN" drill slow.yaml 2>&1); rc=$?
secs=$(( $(date +%s) - start ))
[ "$rc" = 1 ] && [ "$secs" -lt 10 ] && pass "steps that catch their own timeout stop at their deadline (${secs}s)" \
	|| fail "timeout escape" "exit $rc after ${secs}s" "$out"
[ "$(grep -c 'timed out after 500ms' <<<"$out")" = 5 ] && [[ $out == *"still here"* ]] && pass "each says it timed out, the job goes on" \
	|| fail "timeout messages" "$out"

# --- SIGTERM and Ctrl-C -------------------------------------------------------
sed -e 's/        timeout: 500ms/        timeout: 1h/' slow.yaml > forever.yaml
# stop_after SECS SIGNAL CMD...: sends SIGNAL after SECS; prints "exit RC after N s"
stop_after() {
	local wait=$1 sig=$2; shift 2
	"$@" >stop.out 2>&1 &
	local pid=$! t0
	sleep "$wait"
	t0=$(date +%s)
	kill -s "$sig" "$pid"
	for _ in $(seq 200); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
	wait "$pid"
	echo "exit $? after $(( $(date +%s) - t0 )) s"
}
r=$(stop_after 0.5 TERM "$LB_BIN" drill forever.yaml)
[[ $r == "exit 130 after "[0-5]" s" ]] && pass "SIGTERM stops a step that catches its own interruption ($r)" \
	|| fail "SIGTERM in a step" "$r" "$(cat stop.out)"
r=$(stop_after 0.5 INT "$LB_BIN" drill forever.yaml)
[[ $r == "exit 130 after "[0-5]" s" ]] && pass "Ctrl-C too ($r)" || fail "SIGINT in a step" "$r" "$(cat stop.out)"
J=$(last_job)
[[ $(job_state "$J") == *interrupted* ]] && pass "the job is interrupted, resumable" || fail "interrupted state" "$(job_state "$J")"

# plan code outside any step: a plan's own action that loops while it loads
mkdir -p hang/actions
cat > hang/actions/spin.lua <<'LUA'
while true do pcall(function() while true do end end) end
LUA
cat > hang/plan.yaml <<'YAML'
lifeboat: 1
name: hang
machines:
  m: { prepare: [ { uses: ./actions/spin.lua } ] }
groups: [ { name: g, machines: [m] } ]
YAML
r=$(stop_after 0.5 TERM "$LB_BIN" validate hang/plan.yaml)
[[ $r == "exit 130 after "[0-5]" s" ]] && pass "SIGTERM stops validate while a plan's own module loops ($r)" \
	|| fail "SIGTERM in validate" "$r" "$(cat stop.out)"
cat > spin.lua <<'LUA'
table.sort({1, 2, 3}, function() while true do pcall(function() while true do end end) end end)
LUA
r=$(stop_after 0.5 TERM "$LB_BIN" run spin.lua)
[[ $r == "exit 130 after "[0-5]" s" ]] && pass "SIGTERM stops lifeboat run ($r)" || fail "SIGTERM in run" "$r" "$(cat stop.out)"
out=$(LIFEBOAT_RUN_TIMEOUT=500ms timeout -s KILL 20 "$LB_BIN" run spin.lua 2>&1); rc=$?
[ "$rc" = 1 ] && [[ $out == *"timed out"* ]] && pass "LIFEBOAT_RUN_TIMEOUT stops it too" || fail "run timeout" "exit $rc" "$out"

# plan code that allocates without end fails its step at the Lua memory
# limit; the job's cleanup still runs; a bad limit is refused
cat > mem.yaml <<'YAML'
lifeboat: 1
name: mem
machines:
  m:
    prepare:
      - lua: "local t = {} for i = 1, 1e9 do t[i] = string.rep('x', 1000) .. i end"
groups: [ { name: g, machines: [m] } ]
YAML
out=$(LIFEBOAT_LUA_MEMORY=64M "$LB_BIN" drill mem.yaml 2>&1); rc=$?
[ "$rc" = 1 ] && [[ $out == *"prepare/1: not enough memory: the plan's Lua code went over its limit"* ]] && [[ $out == *"done   cleanup/m/remove"* ]] \
	&& pass "a step that allocates without end fails at LIFEBOAT_LUA_MEMORY, and cleanup runs" || fail "Lua memory limit" "exit $rc" "$out"
expect 2 "*LIFEBOAT_LUA_MEMORY must be a size*" "a bad LIFEBOAT_LUA_MEMORY is refused" env LIFEBOAT_LUA_MEMORY=lots "$LB_BIN" validate mem.yaml
