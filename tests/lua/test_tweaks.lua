-- The tweaks on real files: ini, json, xml, replace, template.
local T = require("tap")
local dir = arg[1] or error("usage: test_tweaks.lua WORKDIR")
local tweak = lifeboat.tweak

local ini = dir .. "/app.ini"
fs.write(ini, table.concat({
  "; the app's settings",
  "name = shop",
  "spring.datasource.url=jdbc:old",
  "",
  "[database]",
  "# where the data lives",
  'url = "postgres://10.0.0.5:5432/hotel"',
  "pool: 5",
  "",
  "[cache]",
  "url = redis://10.0.0.6",
  "" }, "\n"))
tweak.ini { file = ini, set = { ["database.url"] = "postgres://127.0.0.1:6432/hotel", ["database.pool"] = 9,
  ["spring.datasource.url"] = "jdbc:new" } }
local got = fs.read(ini)
T.ok(got:find('url = "postgres://127.0.0.1:6432/hotel"', 1, true), "ini: section.key set, quotes kept", got)
T.ok(got:find("pool: 9", 1, true) and got:find("spring.datasource.url=jdbc:new", 1, true), "ini: ':' separator and dotted keys", got)
T.ok(got:find("url = redis://10.0.0.6", 1, true) and got:find("; the app's settings", 1, true)
  and got:find("# where the data lives", 1, true), "ini: other sections and comments untouched", got)
T.raises(function() tweak.ini { file = ini, set = { ["database.passwd"] = "x" } } end, "no key 'database.passwd'",
  "ini: a key that is not there fails")
local env = dir .. "/.env"
fs.write(env, "export DB_HOST=old\nDB_PORT=5432\n")
tweak.ini { file = env, set = { DB_HOST = "127.0.0.1", DB_PORT = 6432 } }
T.eq(fs.read(env), "export DB_HOST=127.0.0.1\nDB_PORT=6432\n", "ini: .env files")

local jf = dir .. "/appsettings.json"
fs.write(jf, '{"z": 1, "ConnectionStrings": {"Main": "Server=old"}, "hosts": [{"port": 80}, {"port": 81}]}')
tweak.json { file = jf, set = { ["ConnectionStrings.Main"] = "Server=127.0.0.1,6432", ["hosts[1].port"] = 9081 } }
local j = json.decode(fs.read(jf))
T.ok(j.ConnectionStrings.Main == "Server=127.0.0.1,6432" and j.hosts[2].port == 9081 and j.z == 1, "json: paths with indexes")
T.ok(fs.read(jf):find('"z".*"ConnectionStrings".*"hosts"'), "json: key order kept")
T.raises(function() tweak.json { file = jf, set = { ["ConnectionStrings.Other"] = "x" } } end, "selects nothing",
  "json: a path that selects nothing fails")

local xf = dir .. "/web.config"
fs.write(xf, [[<?xml version="1.0" encoding="utf-8"?>
<configuration>
  <!-- keep me -->
  <connectionStrings>
    <add name="Main" connectionString="Server=10.0.0.5,1433" />
    <add name="Audit" connectionString="Server=10.0.0.7" />
  </connectionStrings>
  <appSettings><add key="env" value="prod"/></appSettings>
  <title>Old &amp; busted</title>
</configuration>
]])
tweak.xml { file = xf, set = {
  ["/configuration/connectionStrings/add[@name='Main']/@connectionString"] = "Server=127.0.0.1,6432",
  ["/configuration/title"] = "New & <shiny>" } }
local x = fs.read(xf)
T.ok(x:find('connectionString="Server=127.0.0.1,6432"', 1, true) and x:find('connectionString="Server=10.0.0.7"', 1, true),
  "xml: one attribute selected by XPath", x)
T.ok(x:find("New &amp; &lt;shiny&gt;", 1, true) and x:find("<!-- keep me -->", 1, true), "xml: element text escaped, comments kept", x)
T.raises(function() tweak.xml { file = xf, set = { ["/configuration/nothing/@x"] = "1" } } end, "selects nothing",
  "xml: an XPath that selects nothing fails")
fs.write(dir .. "/broken.xml", "<a><b></a>")
T.raises(function() tweak.xml { file = dir .. "/broken.xml", set = { ["/a"] = "1" } } end, "not well-formed",
  "xml: a broken file fails, naming the problem")

local cf = dir .. "/nginx.conf"
fs.write(cf, "server { listen 127.0.0.1:8080; root /srv/www; }\n")
tweak.replace { file = cf, find = "listen 127.0.0.1:8080", to = "listen 127.0.0.1:9080" }
T.eq(fs.read(cf), "server { listen 127.0.0.1:9080; root /srv/www; }\n", "replace: literal find")
tweak.replace { file = cf, match = "root [^;]+", to = "root /site-b/www" }
T.ok(fs.read(cf):find("root /site-b/www;", 1, true), "replace: Lua pattern")
T.raises(function() tweak.replace { file = cf, find = "listen 10.0.0.1", to = "x" } end, "nothing matched",
  "replace: nothing matched fails")

fs.write(dir .. "/tpl.conf", "port=${{ 6000 + 432 }}\nname=${{ string.upper('web') }}\n")
tweak.template { source = dir .. "/tpl.conf", dest = dir .. "/out.conf" }
T.eq(fs.read(dir .. "/out.conf"), "port=6432\nname=WEB\n", "template: rendered")
fs.write(dir .. "/bad.tpl", "a\nb ${{ nope( }}\n")
T.raises(function() tweak.template { source = dir .. "/bad.tpl", dest = dir .. "/o2" } end, "bad.tpl:2:3",
  "template: a syntax error names file, line and column")
-- a rendered file may hold secrets: a new one is 0600 unless the step says; an existing one keeps its mode
fs.write(dir .. "/secret.tpl", "password=${{ 'hunter' .. 2 }}\n")
tweak.template { source = dir .. "/secret.tpl", dest = dir .. "/new.conf" }
T.eq(string.format("%o", fs.stat(dir .. "/new.conf").mode), "600", "template: a new file is 0600")
tweak.template { source = dir .. "/secret.tpl", dest = dir .. "/shared.conf", mode = "0640" }
T.eq(string.format("%o", fs.stat(dir .. "/shared.conf").mode), "640", "template: a new file gets the mode asked for")
tweak.template { source = dir .. "/secret.tpl", dest = dir .. "/yaml.conf", mode = 644 }
T.eq(string.format("%o", fs.stat(dir .. "/yaml.conf").mode), "644", "template: a mode YAML read as a number")
fs.write(dir .. "/kept.conf", "old\n", tonumber("0604", 8))
tweak.template { source = dir .. "/secret.tpl", dest = dir .. "/kept.conf", mode = "0600" }
T.ok(fs.read(dir .. "/kept.conf") == "password=hunter2\n" and fs.stat(dir .. "/kept.conf").mode == tonumber("0604", 8),
  "template: an existing file keeps its mode", string.format("%o", fs.stat(dir .. "/kept.conf").mode))
T.raises(function() tweak.template { source = dir .. "/secret.tpl", dest = dir .. "/o3", mode = "rw-r--r--" } end,
  "'mode' must be octal digits", "template: a mode that is not octal fails")
T.ok(not fs.exists(dir .. "/o3"), "template: and creates nothing")
T.done()
