-- dns.update: points a name at an address with an RFC 2136 dynamic update,
-- signed with a TSIG key (BIND's key file format, as tsig-keygen writes
-- it), then asks the authoritative server until it answers with the new
-- address. In a failover it moves the name to the recovery site's
-- address; the same action in a failback moves it back.
--   uses: dns.update
--   with: { server: 127.0.0.1, port: 53, zone: example.lab, name: www.example.lab,
--           address: ${{ site.addr("web") }}, key_file: ddns.key, ttl: 60 }
-- It runs nsupdate and dig (Debian packages bind9-utils, bind9-dnsutils)
-- from this host's network, not the site's: the server is the operator's.
local api = require("lifeboat.api")
local util = require("lifeboat.util")

local A = {}

local function ipv4(v)
  local a, b, c, d = tostring(v):match("^(%d+)%.(%d+)%.(%d+)%.(%d+)$")
  return type(v) == "string" and a ~= nil and tonumber(a) < 256 and tonumber(b) < 256 and tonumber(c) < 256 and tonumber(d) < 256
end
local function dns_name(v) return type(v) == "string" and v:match("^[%w][%w%-%.]*%.?$") ~= nil and #v <= 253 end
-- a ${{ }} value is known only when the step runs
local function templated(v) return type(v) == "table" or (type(v) == "string" and v:find("${{", 1, true) ~= nil) end

function A.check(with)
  for _, k in ipairs({ "server", "zone", "name", "address", "key_file" }) do
    if with[k] == nil then return "'" .. k .. "' is required" end
  end
  for _, k in ipairs({ "zone", "name" }) do
    if not templated(with[k]) and not dns_name(with[k]) then return "'" .. k .. "' is not a DNS name" end
  end
  if not templated(with.address) and not ipv4(with.address) then return "'address' is not an IPv4 address" end
  if not templated(with.server) and not ipv4(with.server) then return "'server' must be the server's IPv4 address" end
  local port = with.port
  if port ~= nil and not templated(port) and not (math.tointeger(port) and port >= 1 and port <= 65535) then
    return "'port' must be a port number"
  end
  local ttl = with.ttl
  if ttl ~= nil and not (math.tointeger(ttl) and ttl >= 0 and ttl <= 604800) then return "'ttl' must be 0 to 604800 seconds" end
end

local function fqdn(n) return n:sub(-1) == "." and n or (n .. ".") end

-- the A records the server holds for name (asked without recursion)
local function answers(with)
  local r = api.exec({ "dig", "+short", "+norecurse", "+time=2", "+tries=1", "-p", tostring(with.port or 53),
    "@" .. with.server, fqdn(with.name), "A" }, { check = false, timeout = 10, netns = false })
  local out = {}
  for line in r.stdout:gmatch("[^\n]+") do if ipv4(line) then out[#out + 1] = line end end
  table.sort(out)
  return out, r
end

-- The values as the step runs them, checked without exemption: each goes
-- into nsupdate's script, one command per line.
local function check_rendered(with)
  for _, k in ipairs({ "server", "zone", "name", "address", "key_file" }) do
    if type(with[k]) ~= "string" or with[k]:find("[%c]") then return "'" .. k .. "' must be one line of text" end
  end
  if not dns_name(with.zone) then return "'zone' is not a DNS name: " .. with.zone end
  if not dns_name(with.name) then return "'name' is not a DNS name: " .. with.name end
  if not ipv4(with.address) then return "'address' is not an IPv4 address: " .. with.address end
  if not ipv4(with.server) then return "'server' must be the server's IPv4 address: " .. with.server end
  local port = with.port
  if port ~= nil and not (math.tointeger(port) and port >= 1 and port <= 65535) then return "'port' must be a port number" end
  return A.check(with)
end

function A.run(with, ctx)
  local problem = check_rendered(with)
  if problem then error(problem, 0) end
  local key = util.join(ctx.plan.dir, with.key_file)
  if not core.fs.stat(key) then error("key_file " .. key .. " does not exist", 0) end
  local before = answers(with)
  local script = table.concat({
    string.format("server %s %d", with.server, with.port or 53),
    "zone " .. fqdn(with.zone),
    "update delete " .. fqdn(with.name) .. " A",
    string.format("update add %s %d A %s", fqdn(with.name), with.ttl or 60, with.address),
    "send", "" }, "\n")
  local r = api.exec({ "nsupdate", "-k", key, "-t", "10" }, { stdin = script, check = false, timeout = 30, netns = false })
  if r.code ~= 0 then
    local said = (r.stderr ~= "" and r.stderr or r.stdout):gsub("^%s+", ""):gsub("%s+$", ""):gsub("\n", "; ")
    error(string.format("the update of %s at %s was refused: %s", with.name, with.server, said), 0)
  end
  local now
  api.wait_until(function()
    now = answers(with)
    if #now == 1 and now[1] == with.address then return true end
    error(string.format("%s answers %s", with.server, #now > 0 and table.concat(now, ", ") or "nothing"), 0)
  end, { within = with.within or 30, every = 0.5 })
  api.log("%s: %s -> %s (checked at %s)", with.name, #before > 0 and table.concat(before, ", ") or "none",
    with.address, with.server)
  return { name = with.name, before = before, address = with.address, server = with.server }
end

return A
