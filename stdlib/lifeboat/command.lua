-- command.lua: a plan's command (exec: actions and health checks, a
-- machine's start, stop and quiesce) as the argv of the process to run.
-- A list is the argv itself: each item is one argument, never parsed by a
-- shell. A string runs with /bin/sh -c, and the value of each ${{ }} in
-- it never becomes shell syntax: the values are assigned to shell
-- variables first, as single-quoted words at the start of the script, and
-- each ${{ }} becomes a reference to its variable, quoted for the place it
-- is at (bare, inside "...", inside '...', in a here-document), so
-- `-o "-p ${{ port }}"` and `rm ${{ dir }}/x` mean what they say and
-- `x"; touch INJECTED; echo "` is one harmless word.
local expr = require("lifeboat.expr")

local M = {}

local VAR = "LIFEBOAT_V"

local function is_bare(state) return state == "bare" or state == "sub" or state == "bt" or state == "brace" end

local function starts_word(prev) return prev == nil or prev:match("[%s;&|()]") ~= nil end

-- The shell context at the end of each literal part of a command string,
-- scanning as sh would: quotes, $( ), $(( )), backticks, ${ }, comments
-- and here-documents. contexts[i] is where expression part i stands:
-- "bare", "dq", "sq", "arith" or a here-document {quoted, delim, strip}.
local function scan(parts)
  local stack = { "bare" }
  local pending = {} -- here-documents whose body starts at the next newline
  local contexts = {}
  local prev -- the previous character, for word starts
  local function top() return stack[#stack] end
  local function push(s) stack[#stack + 1] = s end
  local function pop() if #stack > 1 then stack[#stack] = nil end end
  for pi, part in ipairs(parts) do
    if type(part) ~= "string" then
      local t = top()
      contexts[pi] = (is_bare(t) or t == "comment") and "bare" or t == "arith_paren" and "arith" or t
      prev = "x"
    else
      local i, n = 1, #part
      while i <= n do
        local c = part:sub(i, i)
        local nxt = part:sub(i + 1, i + 1)
        local t = top()
        if type(t) == "table" then -- a here-document body: ends at a line equal to its delimiter
          if prev == "\n" or prev == nil then
            local line_end = part:find("\n", i, true)
            local line = part:sub(i, (line_end or n + 1) - 1)
            if t.strip then line = line:gsub("^\t+", "") end
            if line == t.delim and line_end then
              pop()
              if #pending > 0 then push(table.remove(pending, 1)) end
              i = line_end
              c = "\n"
            end
          end
        elseif t == "comment" then
          if c == "\n" then
            pop()
            if #pending > 0 then push(table.remove(pending, 1)) end
          end
        elseif t == "sq" then
          if c == "'" then pop() end
        elseif t == "dq" then
          if c == "\\" then i = i + 1
          elseif c == '"' then pop()
          elseif c == "$" and nxt == "(" then
            if part:sub(i + 2, i + 2) == "(" then push("arith"); i = i + 2 else push("sub"); i = i + 1 end
          elseif c == "`" then push("bt") end
        elseif t == "arith" then
          if c == "(" then push("arith_paren")
          elseif c == ")" then pop(); if nxt == ")" then i = i + 1 end end
        elseif t == "arith_paren" then
          if c == "(" then push("arith_paren") elseif c == ")" then pop() end
        else -- bare, sub, bt, brace
          if c == "\\" then i = i + 1
          elseif c == "'" then push("sq")
          elseif c == '"' then push("dq")
          elseif c == "`" then if t == "bt" then pop() else push("bt") end
          elseif c == "$" and nxt == "(" then
            if part:sub(i + 2, i + 2) == "(" then push("arith"); i = i + 2 else push("sub"); i = i + 1 end
          elseif c == "$" and nxt == "{" then push("brace"); i = i + 1
          elseif c == "}" and t == "brace" then pop()
          elseif c == "(" and t == "sub" then push("sub")
          elseif c == ")" and t == "sub" then pop()
          elseif c == "#" and starts_word(prev) then push("comment")
          elseif c == "<" and nxt == "<" and part:sub(i + 2, i + 2) ~= "<" then
            local dash, ws, word, after = part:match("^(%-?)([ \t]*)([^%s;&|<>()]+)()", i + 2)
            if word then
              local delim = word:gsub("[\"'\\]", "")
              pending[#pending + 1] = { delim = delim, quoted = delim ~= word, strip = dash == "-" }
              i = after - 1
            end
          elseif c == "\n" and #pending > 0 then
            push(table.remove(pending, 1))
          end
        end
        prev = part:sub(i, i)
        i = i + 1
      end
    end
  end
  return contexts
end

local function word(v) return "'" .. v:gsub("'", "'\\''") .. "'" end

-- The text that stands for value number n in context ctx.
local function reference(n, ctx, v, where)
  local name = VAR .. n
  if ctx == "bare" then return '"${' .. name .. '}"' end
  if ctx == "dq" then return "${" .. name .. "}" end
  if ctx == "sq" then return "'\"${" .. name .. "}\"'" end
  if ctx == "arith" then
    if not v:match("^%-?%d+$") then
      error(string.format("%s: ${{ }} in $(( )) must be a whole number, not '%s'", where, v), 0)
    end
    return v
  end
  if ctx.quoted then -- a here-document without expansion: the text itself, within one line
    if v:find("\n", 1, true) or v:find(ctx.delim, 1, true) then
      error(string.format("%s: a value in a quoted here-document may hold neither a newline nor '%s'",
        where, ctx.delim), 0)
    end
    return v
  end
  return "${" .. name .. "}"
end

local function str(v, what)
  if type(v) == "string" then return v end
  if type(v) == "number" or type(v) == "boolean" then return tostring(v) end
  error(what .. " must be a string, not a " .. type(v), 0)
end

-- argv(CMD, SCOPE) -> argv, shown: the process to run for a plan command
-- and the command as a person reads it (values in place, for logs).
function M.argv(cmd, scope)
  if expr.is_template(cmd) then
    local t = cmd
    if #t.parts == 1 and type(t.parts[1]) == "table" then
      local v = expr.render(t, scope)
      if type(v) == "table" then return M.argv(v, scope) end -- an expression that makes the argv
    end
    t.shell = t.shell or scan(t.parts)
    local values = expr.parts(t, scope)
    local assign, body, shown = {}, {}, {}
    local n = 0
    for i, p in ipairs(values) do
      if type(p) == "string" then
        body[#body + 1] = p
        shown[#shown + 1] = p
      else
        local v = str(p.value, t.parts[i].where .. ": ${{ " .. t.parts[i].code .. " }}")
        if v:find("\0", 1, true) then error(t.parts[i].where .. ": a value holds a NUL byte", 0) end
        n = n + 1
        assign[#assign + 1] = VAR .. n .. "=" .. word(v)
        body[#body + 1] = reference(n, t.shell[i], v, t.parts[i].where)
        shown[#shown + 1] = v
      end
    end
    local script = table.concat(body)
    if n > 0 then script = table.concat(assign, " ") .. "; " .. script end
    return { "/bin/sh", "-c", script }, table.concat(shown)
  end
  if type(cmd) == "string" then return { "/bin/sh", "-c", cmd }, cmd end
  if type(cmd) == "table" then
    local argv = {}
    for i, item in ipairs(cmd) do argv[i] = str(expr.render(item, scope), "argument " .. i) end
    if #argv == 0 then error("an empty command", 0) end
    return argv, table.concat(argv, " ")
  end
  error("a command must be a string or a list, not a " .. type(cmd), 0)
end

return M
