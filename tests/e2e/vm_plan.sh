#!/usr/bin/env bash
# The qemu provider with plans/vm: two VMs booted from replicated ext4
# disks, each site a network namespace. Replicate pauses the running VMs;
# a drill (kept, then cleaned up) serves the copies at production's
# addresses inside an isolated network while production keeps serving;
# kill -9 during a drill leaves nothing after `cleanup`; a planned
# failover re-IPs (guest.edit) and moves the DNS name (BIND, TSIG); a
# failback moves everything back. The guest agent freezes file systems
# (app-consistent points) and runs a command inside a VM. Bad input: a VM that does not boot
# fails its health check with its console, QEMU missing, a disk that is
# not one, plan keys checked at FILE:LINE:COL.
. "$(dirname "$0")/lib.sh"
REPO=$(cd "$E2E_DIR/../.." && pwd)

if [ "$(id -u)" != 0 ] || ! command -v qemu-system-x86_64 >/dev/null || [ ! -c /dev/net/tun ]; then
	echo "not ok 1 - needs root, /dev/net/tun and qemu-system-x86 (make deps)"; exit 1
fi
cp "$REPO"/plans/vm/{plan.yaml,lab.sh,images.sh} .
# The images (built once, as lab.sh does), with the kernel unpacked: QEMU
# boots that as it is (PVH), where under TCG a packed kernel spends some 5 s
# unpacking itself at every boot of a VM.
sh images.sh "$REPO/plans/vm/.images" >/dev/null
export LIFEBOAT_VM_IMAGES=$WORK/images
mkdir images && ln -s "$REPO"/plans/vm/.images/{db.img,web.img,stamp} images/
cp "$REPO/plans/vm/.images/initrd.gz" images/   # (a plan's kernel and initrd are files, not links)
"$PYTHON" - "$REPO/plans/vm/.images/vmlinuz" images/vmlinuz <<'PY' 2>/dev/null || cp "$REPO/plans/vm/.images/vmlinuz" images/
import lzma, sys
packed = open(sys.argv[1], "rb").read()
at = packed.find(b"\xfd7zXZ\x00")  # the xz stream of a Debian bzImage
assert at > 0, "not an xz-packed kernel"
open(sys.argv[2], "wb").write(lzma.LZMADecompressor().decompress(packed[at:]))
PY
bad_pid=
teardown() {
	[ -z "$bad_pid" ] || { kill "$bad_pid"; wait "$bad_pid"; } 2>/dev/null
	sh lab.sh down >/dev/null 2>&1; cleanup_work
}
trap teardown EXIT
in_ns() { local ns=$1; shift; ip netns exec "$ns" "$@"; }
page() { in_ns "$1" curl -s --max-time 5 "$2"; }
left_over() { # what a drill may leave: its VMs, its network, its taps
	pgrep -f "lifeboat:vm:drill" || true
	ip netns list | grep lbvm-drill || true
}

sh lab.sh down >/dev/null 2>&1 # a run that was killed
if ! out=$(sh lab.sh up 2>&1); then fail "the primary VMs boot" "$out"; exit 1; fi
pass "the primary VMs boot and serve in network lbvm-prod"
# the actions' refusals, against the real guest agent and BIND
cat > actions.lua <<'LUA'
local dir, what = arg[1], arg[2]
local ctx = { plan = { dir = dir }, job = { dir = dir }, scope = { site = { root = dir .. "/sites/primary" } } }
local ok, e
if what == "exec" then
  ok, e = pcall(require("actions.guest.exec").run, { machine = "db", command = "echo said; exit 3" }, ctx)
else
  ok, e = pcall(require("actions.dns.update").run, { server = "127.0.0.1", port = 5353, zone = "vm.lab",
    name = "www.vm.lab", address = "10.231.1.99", key_file = "wrong.key" }, ctx)
end
print(ok and "succeeded" or tostring(e))
LUA
out=$(lb run actions.lua "$WORK" exec 2>&1)
if [[ $out == *"'echo said; exit 3' in db exited 3: said"* ]]; then pass "guest.exec fails a command that exits non-zero, with its output"
else fail "guest.exec fails a command that exits non-zero, with its output" "$out"; fi
tsig-keygen -a hmac-sha256 ddns-key > wrong.key
out=$(lb run actions.lua "$WORK" dns 2>&1)
if [[ $out == *"the update of www.vm.lab at 127.0.0.1 was refused"*"NOTAUTH"* ]] &&
	[ "$(dig +short @127.0.0.1 -p 5353 www.vm.lab A)" = 10.231.1.11 ]; then
	pass "dns.update with a wrong TSIG key fails with the server's answer and changes nothing"
else fail "dns.update with a wrong TSIG key fails with the server's answer and changes nothing" "$out"; fi
check "record 2 is written before the point" page lbvm-prod "http://10.231.1.10:5000/cgi-bin/add?record+2:+before+the+point"

out=$(lb replicate plan.yaml 2>&1)
paused=$(cat .lifeboat/jobs/*-replicate-*/journal.jsonl | grep -o '"paused_seconds":[0-9.e-]*' | wc -l)
if [ "$paused" = 2 ]; then pass "replicate pauses each running VM for its sync and says for how long"
else fail "replicate pauses each running VM for its sync and says for how long" "$out"; fi
if [[ $out == *"db/root: whole disk read and compared: no dirty bitmap yet"* ]]; then
	pass "the first replicate reads the whole disks and says why"
else fail "the first replicate reads the whole disks and says why" "$out"; fi
if [[ $out == *"VM db: file systems frozen"*"(app-consistent)"* ]] && lb points --store replica db/root | grep -q " app "; then
	pass "the guest agent freezes each VM's file systems for its sync: the points are app-consistent"
else fail "the guest agent freezes each VM's file systems for its sync: the points are app-consistent" "$out"; fi
check "record 2b is written (the file systems were thawed)" page lbvm-prod "http://10.231.1.10:5000/cgi-bin/add?record+2b:+tracked"
out=$(lb replicate plan.yaml 2>&1)
if [[ $out == *"db/root: changed-block tracking: "*" read"* ]] && [[ $out != *"whole disk"* ]]; then
	pass "the next replicate of the running VMs reads only the blocks their dirty bitmaps mark"
else fail "the next replicate of the running VMs reads only the blocks their dirty bitmaps mark" "$out"; fi
journal=$(ls -d .lifeboat/jobs/*-replicate-* | tail -1)/journal.jsonl
read_db=$(grep '"step":"sync/db/sync"' "$journal" | grep -o '"bytes_read":[0-9]*' | head -1 | cut -d: -f2)
# what the guest wrote meanwhile: the record, its journal, access times (a few MiB)
if [ -n "$read_db" ] && [ "$read_db" -lt $((16 << 20)) ]; then pass "it read $read_db bytes of the 96 MiB disk"
else fail "it read less than 16 MiB of the 96 MiB disk" "$read_db"; fi
check "record 3 is written after the point" page lbvm-prod "http://10.231.1.10:5000/cgi-bin/add?record+3:+after+the+point"

# a drill kept running: the copies answer at production's addresses in the bubble
out=$(lb drill plan.yaml --keep 2>&1)
expect_page() { # DESC NS URL WANT [NOT]
	local p; p=$(page "$2" "$3")
	if [[ $p == *"$4"* ]] && { [ -z "${5:-}" ] || [[ $p != *"$5"* ]]; }; then pass "$1"; else fail "$1" "$p" "$out"; fi
}
expect_page "the drill's web VM serves the point's records at 10.231.1.11 inside the bubble" \
	lbvm-drill http://10.231.1.11/cgi-bin/index "record 2b: tracked" "record 3"
expect_page "production still serves every record at the same address meanwhile" \
	lbvm-prod http://10.231.1.11/cgi-bin/index "record 3: after the point"
links=$(ip -n lbvm-drill -br link | awk '{print $1}' | sort | tr '\n' ' ')
if [ "$links" = "br0 lbvm1.0 lbvm2.0 lo " ]; then pass "the bubble holds only its bridge and the VMs' taps: no way out"
else fail "the bubble holds only its bridge and the VMs' taps: no way out" "$links"; fi
if ! in_ns lbvm-drill curl -s --max-time 2 http://127.0.0.1:5353/ >/dev/null 2>&1 &&
	[ "$(page lbvm-drill http://10.231.2.11/ 2>&1)" = "" ]; then pass "the bubble reaches neither this host's services nor another site"
else fail "the bubble reaches neither this host's services nor another site"; fi
out=$(lb cleanup plan.yaml 2>&1)
if [ -z "$(left_over)" ]; then pass "cleanup stops the drill's VMs and removes the bubble"
else fail "cleanup stops the drill's VMs and removes the bubble" "$(left_over)" "$out"; fi

# kill -9 of lifeboat while a drill's VM runs. Killed as it boots, the VM
# cannot hear the power button yet: cleanup waits shutdown_timeout, then
# quits it; 1 s instead of the plan's 20 s, the same steps.
sed 's/shutdown_timeout: 20s/shutdown_timeout: 1s/' plan.yaml > kill.yaml
"$LB_BIN" drill kill.yaml >drill.log 2>&1 &
pid=$!
for _ in $(seq 300); do pgrep -f "lifeboat:vm:drill:db" >/dev/null && break; sleep 0.1; done
kill -9 $pid; wait $pid 2>/dev/null
running=$(pgrep -f "lifeboat:vm:drill" | wc -l)
out=$(lb cleanup kill.yaml 2>&1)
if [ "$running" -ge 1 ] && [ -z "$(left_over)" ] && ! ip -n lbvm-drill link show 2>/dev/null | grep -q lbvm; then
	pass "after kill -9 during a drill, cleanup leaves no VM, network or tap"
else fail "after kill -9 during a drill, cleanup leaves no VM, network or tap" "running at kill: $running" "$(left_over)" "$out"; fi

# a VM that does not boot: its disk is no file system. Its drill waits
# out its health check in the drill network while the failover and the
# failback (other networks) run; checked after them.
mkdir -p bad/a/vm && head -c 4194304 /dev/zero > bad/a/vm/disk.img
ln -s "$LIFEBOAT_VM_IMAGES" bad/.images
cat > bad/plan.yaml <<'YAML'
lifeboat: 1
name: bad
store: replica
sites:
  primary: { provider: qemu, root: a, accel: tcg }
  recovery: { provider: qemu, root: b, accel: tcg }
  drill: { provider: qemu, root: d, accel: tcg, network: { name: lbvm-drill, subnet: 10.231.3.0/24, isolated: true },
           addresses: { vm: 10.231.3.5 } }
machines:
  vm:
    datasets: [ { name: disk, kind: image, path: disk.img } ]
    vm: { kernel: .images/vmlinuz, initrd: .images/initrd.gz, append: "console=ttyS0 panic=-1" }
    health: [ { tcp: "10.231.3.5:80", within: 30s } ]
groups: [ { name: g, machines: [vm] } ]
YAML
(cd bad && lb replicate plan.yaml >/dev/null 2>&1)
(cd bad && exec "$LB_BIN" drill plan.yaml >drill.out 2>&1) &
bad_pid=$!

# planned failover: last write carried over, re-IP, DNS moved
out=$(lb failover plan.yaml --planned 2>&1)
expect_page "after failover the recovery web VM uses the recovery database (re-IP in its disk) and has every record" \
	lbvm-rec http://10.231.2.11/cgi-bin/index "database at 10.231.2.10:5000"
if [[ $out == *"start  web/after/1  inside the web VM, its configuration names this site's database"* ]] &&
	[[ $out == *"done   web/after/1"* ]]; then
	pass "a guest.exec step ran a command inside the recovered web VM"
else fail "a guest.exec step ran a command inside the recovered web VM" "$out"; fi
expect_page "the recovered database has the write made after the point (the final sync)" \
	lbvm-rec http://10.231.2.10:5000/records "record 3: after the point"
dns=$(dig +short @127.0.0.1 -p 5353 www.vm.lab A)
if [ "$dns" = 10.231.2.11 ]; then pass "www.vm.lab answers the recovery address (TSIG-signed update)"
else fail "www.vm.lab answers the recovery address (TSIG-signed update)" "$dns" "$out"; fi
if ! pgrep -f "primary:db" >/dev/null && ! pgrep -f "primary:web" >/dev/null; then pass "the primary VMs were shut down first"
else fail "the primary VMs were shut down first"; fi
check "record 4 is written at the recovery site" page lbvm-rec "http://10.231.2.10:5000/cgi-bin/add?record+4:+at+recovery"

out=$( (lb reprotect plan.yaml && lb failback plan.yaml) 2>&1)
expect_page "after failback the primary serves the record written at recovery, at its own address" \
	lbvm-prod http://10.231.1.11/cgi-bin/index "record 4: at recovery"
expect_page "and its web VM points at the primary's database again" lbvm-prod http://10.231.1.11/cgi-bin/index \
	"database at 10.231.1.10:5000"
dns=$(dig +short @127.0.0.1 -p 5353 www.vm.lab A)
if [ "$dns" = 10.231.1.11 ]; then pass "www.vm.lab answers the primary's address again"
else fail "www.vm.lab answers the primary's address again" "$dns" "$out"; fi
if [ "$(pgrep -f "lifeboat:vm:recovery" | wc -l)" = 0 ]; then pass "the recovery VMs were shut down by the failback"
else fail "the recovery VMs were shut down by the failback"; fi
out=$(lb replicate plan.yaml 2>&1)
if [[ $out == *"db/root: whole disk read and compared: QEMU has no dirty bitmap"*"(the VM restarted)"* ]] ||
	[[ $out == *"db/root: whole disk read and compared: the bitmap counts from point"* ]]; then
	pass "a replicate after the VMs restarted falls back to the full comparison and says so"
else fail "a replicate after the VMs restarted falls back to the full comparison and says so" "$out"; fi
wait "$bad_pid"; rc=$?; bad_pid=
out=$(cat bad/drill.out)
if [ $rc = 1 ] && [[ $out == *"last lines of its console"*"cannot mount /dev/vda"* ]]; then
	pass "a VM that does not boot fails its health step with the last lines of its console"
else fail "a VM that does not boot fails its health step with the last lines of its console" "exit $rc" "$out"; fi
if [ -z "$(left_over)" ] && [ ! -e bad/d/vm/disk.img ]; then pass "and the drill's cleanup still removes it"
else fail "and the drill's cleanup still removes it" "$(left_over)"; fi
sh lab.sh down >/dev/null 2>&1

cd bad
expect 2 "*qemu-system-x86_64 is not installed*" "QEMU missing: a clear error at preflight" \
	env PATH=/nonexistent "$LB_BIN" drill plan.yaml
head -c 1000 /dev/urandom > a/vm/disk.img
digest=$(tree_digest .)
expect 2 "*a/vm/disk.img is not a disk image*" "a disk that is not one (not whole sectors): a clear error at preflight" \
	"$LB_BIN" replicate plan.yaml
cd ..

# plan keys of the provider, checked with FILE:LINE:COL
sed -e 's/addresses: &production { db: 10.231.1.10, web: 10.231.1.11 }/addresses: \&production { db: 10.231.9.10, web: 10.231.1.11 }/' \
	-e 's/    memory: 128MiB/    memory: lots/' -e '0,/    accel: tcg/s//    accel: fast/' plan.yaml > badkeys.yaml
out=$(lb validate badkeys.yaml 2>&1)
for want in "badkeys.yaml:21:12: sites.primary.accel: unknown value 'fast'" \
	"address 10.231.9.10 of db is outside the subnet 10.231.1.0/24" "vm.memory: bad size 'lots'"; do
	if [[ $out == *"$want"* ]]; then pass "validate: $want"; else fail "validate: $want" "$out"; fi
done
sed 's/provider: local, root: site-a }/provider: local, root: site-a, network: { name: x, subnet: 10.0.0.0\/24 } }/' \
	"$REPO/plans/smarthotel/plan.yaml" > wrongsite.yaml
expect 2 "*site 'primary': key 'network' is for sites of provider qemu, not local*" \
	"a qemu key on a local site is refused" "$LB_BIN" validate wrongsite.yaml
