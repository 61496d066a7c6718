-- sched.lua: runs a job's steps. Each step is a coroutine on this one
-- thread; blocking work is a task on the C worker pool, and the step
-- yields until core.poll hands back its result. Steps form a graph
-- (deps); a step starts once its dependencies are finished, within the
-- limits of its group (max_parallel, counted per machine chain).
--
-- A step is a table: id, title, deps = {ids}, run = function(step),
-- and optionally timeout, retries, on_error (abort|continue|pause),
-- always (runs even after an abort: cleanup), chain + limit (the machine
-- chain it belongs to and the group's max_parallel), first/last (of chain).
local readonly = require("lifeboat.readonly")
local util = require("lifeboat.util")

local M = {}

M.current = nil -- the step whose coroutine is running

-- Inside a step: wait for a task (ticket from core.*); with a timeout,
-- returns nil, "timeout" when it passes (the task is cancelled first).
function M.await(ticket, timeout)
  if not M.current then error("blocking call outside a running step", 2) end
  return coroutine.yield("task", ticket, timeout)
end

function M.sleep(secs)
  if not M.current then error("sleep outside a running step", 2) end
  if secs and secs > 0 then coroutine.yield("sleep", secs) end
end

-- Error objects stdlib raises on purpose (a pause, a health check's
-- evidence) reach the scheduler as they are; any other error that is not
-- a string becomes one inside the step.
local trusted = setmetatable({}, { __mode = "k" })
function M.trust(e) trusted[e] = true; return e end

-- A pause request: error(sched.pause("why")) from a step pauses the job.
local Pause = {}
Pause.__tostring = function(p) return p.reason end
function M.pause(reason) return M.trust(setmetatable({ reason = reason }, Pause)) end

-- What a step's function ended with, made safe for the scheduler while
-- still inside the step (where its deadline holds): a result is a plain
-- copy (no metamethod of plan code runs when the host reads it, nothing
-- JSON cannot hold), an error a string or a trusted object.
local function outcome(ok, v)
  if ok then return readonly.plain(v, true) end
  if type(v) == "string" or trusted[v] then error(v, 0) end
  local ok2, text = pcall(tostring, v)
  error(ok2 and type(text) == "string" and text or "(an error object that is not a string)", 0)
end

local MAX_BACKOFF = 300

-- With LIFEBOAT_DEBUG set, where a step's error was raised goes to its log.
local function error_handler(s)
  if not core.getenv("LIFEBOAT_DEBUG") then return function(e) return e end end
  return function(e)
    s.traceback = core.traceback(tostring(e), 2)
    return e
  end
end

-- run(job, steps, opts) -> "done" | "failed" | "paused" | "interrupted" | "cancelled"
-- opts.done = {id = true} for steps a previous run finished (resume),
-- opts.on_event(kind, step) for output, opts.dry_run, opts.cancelled() true
-- once the job is to be cancelled (asked at least every second): running
-- steps stop, what is left is skipped, but steps marked always (clean-up)
-- still run.
function M.run(job, steps, opts)
  opts = opts or {}
  local by_id, dependents = {}, {}
  for _, s in ipairs(steps) do
    by_id[s.id] = s
    s.state = "pending"
    s.attempt = 0
    s.waiting_on = 0
    dependents[s.id] = {}
  end
  local ready, ready_head, ready_tail = {}, 1, 0
  local function push_ready(s)
    ready_tail = ready_tail + 1
    ready[ready_tail] = s
  end
  for _, s in ipairs(steps) do
    for _, d in ipairs(s.deps or {}) do
      if by_id[d] then
        s.waiting_on = s.waiting_on + 1
        table.insert(dependents[d], s)
      end
    end
  end
  local active_chains, chain_count = {}, {}
  local running, timers, waiting = {}, {}, {} -- step set, sleeping steps, ticket -> step
  local n_running = 0
  local aborting, pausing, interrupted, cancelling = false, false, false, false
  local failed_steps = {}
  local emit = opts.on_event or function() end

  local function settle(s)
    -- s reached a final state: unblock dependents
    for _, d in ipairs(dependents[s.id]) do
      d.waiting_on = d.waiting_on - 1
      local ok = s.state == "done" or s.state == "skipped" or (s.state == "failed" and s.continued)
      if not ok then d.blocked = true end
      if d.waiting_on == 0 then push_ready(d) end
    end
    if s.chain and (s.last or (s.state == "failed" and not s.continued)) and active_chains[s.chain] then
      active_chains[s.chain] = nil
      chain_count[s.limit_key] = chain_count[s.limit_key] - 1
    end
  end

  local function release(s)
    running[s] = nil
    n_running = n_running - 1
    s.co, s.ticket, s.wake, s.deadline, s.wait_deadline = nil, nil, nil, nil, nil
  end

  local function finish(s, ok, value)
    release(s)
    s.ended = core.now()
    local secs = s.ended - s.started
    if ok then
      s.state = "done"
      s.result = value
      job:event { ev = "done", step = s.id, secs = secs, result = type(value) == "table" and value or nil }
      emit("done", s)
      settle(s)
      return
    end
    if getmetatable(value) == Pause then
      s.state = "waiting"
      s.error = value.reason
      job:event { ev = "wait", step = s.id, error = value.reason }
      emit("wait", s)
      pausing = true
      return
    end
    if type(value) == "table" and value.evidence then s.partial = { evidence = value.evidence } end
    local msg = type(value) == "string" and value or tostring(value)
    msg = msg:gsub("^stdlib/[%w_/.]+:%d+: ", "") -- where in stdlib says nothing to an operator
    if msg == "not enough memory" then
      msg = "not enough memory: the plan's Lua code went over its limit (LIFEBOAT_LUA_MEMORY, default 1G)"
    end
    s.error = msg
    if s.traceback then job:log(s.id, s.traceback .. "\n"); s.traceback = nil end
    if s.stopped_for == "interrupted" or s.stopped_for == "cancelled" then
      s.state = "cancelled"
      job:event { ev = "cancel", step = s.id, error = s.stopped_for }
      emit("cancel", s)
      if s.stopped_for == "cancelled" then settle(s) end -- the clean-up after it still runs
      return
    end
    if s.attempt <= (s.retries or 0) and not interrupted then
      local delay = math.min(MAX_BACKOFF, (opts.retry_base or 1) * 2 ^ (s.attempt - 1))
      s.state = "pending"
      s.not_before = core.mono() + delay
      job:event { ev = "fail", step = s.id, error = msg, attempt = s.attempt, retry_in = delay }
      emit("retry", s)
      push_ready(s)
      return
    end
    s.state = "failed"
    local policy = s.on_error or "abort"
    s.continued = policy == "continue"
    job:event { ev = "fail", step = s.id, error = msg, final = true, continued = s.continued or nil,
      result = s.partial }
    emit("fail", s)
    failed_steps[#failed_steps + 1] = s
    if policy == "abort" then aborting = true
    elseif policy == "pause" then pausing = true; s.state = "waiting" end
    settle(s)
  end

  local function resume(s, ...)
    M.current = s
    local ok, a, b, c = coroutine.resume(s.co, ...)
    M.current = nil
    if not ok then
      -- raised by the instruction hook where it could not yield
      if not s.stopped_for and core.interrupted() then s.stopped_for = "interrupted"
      elseif not s.stopped_for and s.deadline and core.mono() >= s.deadline then
        s.stopped_for = "timed out after " .. util.fmt_duration(s.timeout or 0)
      end
      if s.stopped_for then a = s.stopped_for end
      coroutine.close(s.co)
      return finish(s, false, a)
    end
    if coroutine.status(s.co) == "dead" then return finish(s, true, a) end
    if a == "task" then
      waiting[b] = s
      s.ticket = b
      if c then s.wait_deadline = core.mono() + c end
    elseif a == "sleep" then
      s.wake = core.mono() + b
      timers[s] = true
    else
      -- yielded by the instruction hook: past its deadline or interrupted
      local why = (interrupted or core.interrupted()) and "interrupted" or
        ("timed out after " .. util.fmt_duration(s.timeout or 0))
      s.stopped_for = why
      coroutine.close(s.co)
      finish(s, false, why)
    end
  end

  local function start(s)
    s.state = "running"
    s.attempt = s.attempt + 1
    s.started = core.now()
    s.stopped_for = nil
    running[s] = true
    n_running = n_running + 1
    job:event { ev = "start", step = s.id, attempt = s.attempt, title = s.title, group = s.group, machine = s.machine }
    emit("start", s)
    s.co = coroutine.create(function() return outcome(xpcall(s.run, error_handler(s), s)) end)
    if s.timeout then
      s.deadline = core.mono() + s.timeout
      core.set_deadline(s.co, s.deadline)
    else
      core.set_deadline(s.co, nil)
    end
  end

  local function stop(s, why)
    s.stopped_for = why
    if s.ticket then
      core.cancel(s.ticket) -- its completion finishes the step
    else
      timers[s] = nil
      coroutine.close(s.co)
      finish(s, false, why)
    end
  end

  local function notice_cancel()
    if cancelling or not (opts.cancelled and opts.cancelled()) then return end
    cancelling = true
    emit("cancel", nil)
    for s in pairs(running) do
      if not s.stopped_for and not s.always then stop(s, "cancelled") end
    end
  end

  -- Ctrl-C or SIGTERM: nothing new starts, running steps stop
  local function notice_interrupt()
    if interrupted or not core.interrupted() then return end
    interrupted = true
    emit("interrupt")
    for s in pairs(running) do
      if not s.stopped_for then stop(s, "interrupted") end
    end
  end

  -- previously finished steps (resume)
  for _, s in ipairs(steps) do
    local prev = opts.done and opts.done[s.id]
    if prev then
      s.state = prev.state
      s.continued = prev.continued
      s.result = prev.result
      s.resumed = true
    end
  end
  for _, s in ipairs(steps) do
    if s.waiting_on == 0 then push_ready(s) end
  end
  notice_cancel()

  while true do
    -- start what can start
    local starting = {}
    local deferred = {}
    local last = ready_tail
    while ready_head <= last do
      local s = ready[ready_head]
      ready[ready_head] = nil
      ready_head = ready_head + 1
      if s.state == "done" or s.state == "skipped" or (s.state == "failed" and s.resumed) then
        if s.resumed and not s.settled then s.settled = true; settle(s) end
      elseif cancelling and not s.always and not interrupted then
        s.state = "skipped"
        s.skipped_because = "the job was cancelled"
        job:event { ev = "skip", step = s.id, error = s.skipped_because }
        emit("blocked", s)
        settle(s)
      elseif interrupted or (pausing and not cancelling) then
        deferred[#deferred + 1] = s
      elseif s.blocked and not s.always then
        s.state = "skipped"
        s.skipped_because = "a step it needs failed"
        emit("blocked", s)
        settle(s)
      elseif aborting and not s.always then
        s.state = "skipped"
        emit("blocked", s)
        settle(s)
      elseif s.not_before and core.mono() < s.not_before then
        deferred[#deferred + 1] = s
      elseif s.chain and not active_chains[s.chain] and s.limit and (chain_count[s.limit_key] or 0) >= s.limit then
        deferred[#deferred + 1] = s
      else
        if s.chain and not active_chains[s.chain] then
          active_chains[s.chain] = true
          chain_count[s.limit_key] = (chain_count[s.limit_key] or 0) + 1
        end
        starting[#starting + 1] = s
        start(s)
      end
    end
    for _, s in ipairs(deferred) do push_ready(s) end
    job:flush()
    for _, s in ipairs(starting) do
      if running[s] and s.co and coroutine.status(s.co) == "suspended" and not s.ticket and not s.wake then
        resume(s)
      end
    end
    job:flush()
    notice_interrupt() -- a step may have seen it first
    if n_running == 0 then
      local queued = ready_tail - ready_head + 1
      -- only steps deferred for later (backoff) remain, or nothing at all
      if queued == 0 or interrupted or (pausing and not cancelling) then break end
    end
    -- wait for a task, a timer or a deadline
    local now = core.mono()
    local next_at = math.huge
    for s in pairs(timers) do next_at = math.min(next_at, s.wake) end
    for s in pairs(running) do
      if s.deadline and not s.stopped_for then next_at = math.min(next_at, s.deadline) end
      if s.wait_deadline then next_at = math.min(next_at, s.wait_deadline) end
    end
    for i = ready_head, ready_tail do
      if ready[i].not_before then next_at = math.min(next_at, ready[i].not_before) end
    end
    local timeout = next_at == math.huge and -1 or math.max(0, next_at - now)
    if opts.cancelled and not cancelling and (timeout < 0 or timeout > 1) then timeout = 1 end
    if ready_tail > last then timeout = 0 end -- steps became ready: start them first
    local done, intr = core.poll(timeout)
    if intr then notice_interrupt() end
    notice_cancel()
    for _, d in ipairs(done) do
      local s = waiting[d.ticket]
      waiting[d.ticket] = nil
      if s and running[s] and s.ticket == d.ticket then
        s.ticket = nil
        if s.stopped_for then
          coroutine.close(s.co)
          finish(s, false, s.stopped_for)
        elseif s.wait_timed_out then
          s.wait_timed_out, s.wait_deadline = nil, nil
          resume(s, nil, "timeout")
        else
          s.wait_deadline = nil
          resume(s, d.result)
        end
      end
    end
    now = core.mono()
    for s in pairs(timers) do
      if s.wake <= now then
        timers[s] = nil
        s.wake = nil
        if running[s] then resume(s) end
      end
    end
    for s in pairs(running) do
      if s.deadline and now >= s.deadline and not s.stopped_for then
        stop(s, "timed out after " .. util.fmt_duration(s.timeout))
      elseif s.wait_deadline and now >= s.wait_deadline and s.ticket and not s.wait_timed_out then
        s.wait_timed_out = true
        core.cancel(s.ticket)
      end
    end
  end
  job:flush()
  -- Ctrl-C during a cancel's clean-up: interrupted, and resume finishes the cancel
  if interrupted or core.interrupted() then return "interrupted", failed_steps end
  if cancelling then return "cancelled", failed_steps end
  if pausing then return "paused", failed_steps end
  if aborting then return "failed", failed_steps end
  for _, s in ipairs(failed_steps) do if not s.continued then return "failed", failed_steps end end
  return "done", failed_steps
end

return M
