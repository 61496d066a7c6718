-- One duration parser for plans, options and environment variables (the
-- C commands use the same one): units largest first, each at most once.
local T = require("tap")
local util = require("lifeboat.util")

for text, want in pairs({ ["90s"] = 90, ["15m"] = 900, ["1h30m"] = 5400, ["2d"] = 172800, ["500ms"] = 0.5,
  ["1m30s"] = 90, ["1s500ms"] = 1.5, ["0s"] = 0, ["1d2h3m4s5ms"] = 93784.005 }) do
  T.eq(util.parse_duration(text), want, text)
end
T.eq(math.type(util.parse_duration("90s")), "integer", "whole seconds are an integer")
for _, bad in ipairs({ "", "90", "s", "1x", "1m1h", "1s1s", "1ms1s", "1.5s", "-1s", "1 s", " 1s", "1s ", "1M", "1msx", "9999999999s", "106751992d", "11575d", "1000000001s", "16666667m1s" }) do
  T.eq(util.parse_duration(bad), nil, "refused: '" .. bad .. "'")
end
T.eq(util.parse_duration(90), nil, "a number is not a duration")
T.eq(util.parse_duration("1000000000s"), 1000000000, "10^9 seconds is the most")
T.eq(util.parse_duration("11574d"), 11574 * 86400, "11,574 days are below it")
T.done()
