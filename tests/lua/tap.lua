-- tap.lua: TAP output for Lua tests run with `lifeboat run`.
local T = { n = 0, failed = 0 }

function T.ok(cond, desc, detail)
  T.n = T.n + 1
  if cond then print("ok " .. T.n .. " - " .. desc)
  else
    T.failed = T.failed + 1
    print("not ok " .. T.n .. " - " .. desc)
    if detail then print("#   " .. tostring(detail)) end
  end
end

function T.eq(got, want, desc)
  T.ok(got == want, desc, string.format("got %q, want %q", tostring(got), tostring(want)))
end

-- raises(fn, pattern, desc): fn must raise an error matching pattern (plain text).
function T.raises(fn, pattern, desc)
  local ok, e = pcall(fn)
  T.ok(not ok and tostring(e):find(pattern, 1, true) ~= nil, desc, ok and "no error" or tostring(e))
end

function T.done()
  if T.failed > 0 then error(T.failed .. " test(s) failed", 0) end
end

return T
