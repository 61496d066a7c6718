#!/usr/bin/env bash
# The VM-side actions without a VM: guest.edit rewrites a file inside an
# ext4 image (a file larger than an exec's output cap, a job folder whose
# path has a space, an attempt that stopped halfway) and leaves the file
# system clean; dns.update checks the values it renders before they reach
# nsupdate; a plan with sites but no store says so; two sites cannot share
# a network.
. "$(dirname "$0")/lib.sh"

mkdir -p r/etc && printf 'db = 10.0.0.1:5000\n' > r/etc/web.conf && chmod 640 r/etc/web.conf
head -c 1500000 /dev/urandom | base64 > r/etc/big.conf
mkfs.ext4 -q -F -d r img 16M >/dev/null
cat > plan.yaml <<'YAML'
lifeboat: 1
name: ga
store: st
vars: { addr: "10.0.0.5\nupdate add evil.lab. 60 A 6.6.6.6" }
sites:
  primary: { provider: local, root: a }
  recovery: { provider: local, root: b }
  drill: { provider: local, root: "d d" }
machines:
  m:
    datasets: [ { name: img, kind: image, path: img } ]
    prepare:
      - uses: guest.edit
        with: { image: "${{ dataset.img }}", file: /etc/web.conf, tweak: tweak.replace, match: "db = [%d.]+", to: "db = 10.9.9.9" }
      - uses: guest.edit
        with: { image: "${{ dataset.img }}", file: /etc/big.conf, tweak: tweak.replace, find: "A", to: "@" }
groups:
  - name: g
    machines: [m]
    after:
      - uses: dns.update
        only: [failover]
        with: { server: 127.0.0.1, zone: lab, name: www.lab, address: "${{ vars.addr }}", key_file: plan.yaml }
YAML
mkdir -p a/m && cp img a/m/img
lb replicate plan.yaml >/dev/null 2>&1
out=$(lb drill plan.yaml --keep 2>&1)
got=$(debugfs -R "cat /etc/web.conf" "d d/m/img" 2>/dev/null)
if [ "$got" = "db = 10.9.9.9:5000" ]; then pass "guest.edit changes a file inside the image (job folder with a space)"
else fail "guest.edit changes a file inside the image (job folder with a space)" "$got" "$out"; fi
want=$(tr A @ < r/etc/big.conf | sha256sum)
got=$(debugfs -R "cat /etc/big.conf" "d d/m/img" 2>/dev/null | sha256sum)
if [ "$want" = "$got" ]; then pass "a file larger than 1 MiB comes back whole"; else fail "a file larger than 1 MiB comes back whole" "$out"; fi
mode=$(debugfs -R "stat /etc/web.conf" "d d/m/img" 2>/dev/null | grep -o "Mode: *[0-7]*")
if [ "$mode" = "Mode:  0640" ]; then pass "it keeps the file's mode"; else fail "it keeps the file's mode" "$mode"; fi
check "the file system is clean afterwards" e2fsck -fn "d d/m/img"

# an attempt that stopped after removing the file: the new one is named next time
cp img half.img
debugfs -w -R "ln /etc/web.conf /etc/web.conf.lifeboat-new" half.img >/dev/null 2>&1
debugfs -w -R "unlink /etc/web.conf" half.img >/dev/null 2>&1
cat > half.lua <<'LUA'
local edit = require("actions.guest.edit")
local job = { dir = arg[1], event = function() end, flush = function() end }
local r = edit.run({ image = arg[2], file = "/etc/web.conf", tweak = "tweak.replace", find = "10.0.0.1", to = "10.7.7.7" },
  { job = job, plan = { dir = "." }, step = { id = "s" } })
print(r.changes)
LUA
out=$(lb run half.lua "$WORK" half.img 2>&1)
got=$(debugfs -R "cat /etc/web.conf" half.img 2>/dev/null)
if [ "$got" = "db = 10.7.7.7:5000" ] && e2fsck -fn half.img >/dev/null 2>&1; then
	pass "an edit that stopped halfway is finished by the next attempt"
else fail "an edit that stopped halfway is finished by the next attempt" "$got" "$out"; fi

lb cleanup plan.yaml >/dev/null 2>&1
mkdir -p bin && printf '#!/bin/sh\necho ran >> %s/nsupdate.ran\n' "$WORK" > bin/nsupdate && chmod +x bin/nsupdate
out=$(PATH=$WORK/bin:$PATH lb failover plan.yaml --yes 2>&1)
if [[ $out == *"'address' must be one line of text"* ]] && [ ! -e nsupdate.ran ]; then
	pass "dns.update refuses a rendered value with a newline before nsupdate runs"
else fail "dns.update refuses a rendered value with a newline before nsupdate runs" "$out"; fi

sed '/^store: st/d' plan.yaml > nostore.yaml
out=$(lb replicate nostore.yaml 2>&1)
if [[ $out == *"the plan names no replica store: add 'store: URL'"* ]]; then pass "a plan with sites but no store says so"
else fail "a plan with sites but no store says so" "$out"; fi

cat > nets.yaml <<'YAML'
lifeboat: 1
name: nets
sites:
  primary: { provider: qemu, root: a, network: { name: lbnet, subnet: 10.231.7.0/24 }, addresses: { m: 10.231.7.1 } }
  recovery: { provider: qemu, root: b, network: { name: lbnet2, subnet: 10.231.8.0/24 } }
  drill: { provider: qemu, root: d, network: { name: lbnet, subnet: 10.231.7.0/24, isolated: true } }
machines:
  m: { datasets: [ { name: disk, kind: image, path: disk.img } ] }
groups: [ { name: g, machines: [m] } ]
YAML
out=$(lb validate nets.yaml 2>&1)
for want in "nets.yaml:4:48: site 'primary': network 'lbnet' is also site 'drill''s: each site needs a network of its own" \
	"nets.yaml:4:99: site 'primary': address 10.231.7.1 of m is the subnet's gateway or broadcast address"; do
	if [[ $out == *"$want"* ]]; then pass "validate: ${want#*: }"; else fail "validate: ${want#*: }" "$out"; fi
done
