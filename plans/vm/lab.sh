#!/bin/sh
# lab.sh up|down: the primary site of plan.yaml. `up` builds the images
# (once, into .images), makes production's network (network namespace
# lbvm-prod: bridge br0 at 10.231.1.1/24) and boots the two VMs there from
# copies of the images, each answering QMP on sites/primary/NAME/.qmp and
# its guest agent on sites/primary/NAME/.qga, so lifeboat finds them. `down` stops every VM of every site and removes the
# networks and the sites' folders. With BIND installed, `up` also starts an
# authoritative server for the zone vm.lab on 127.0.0.1:5353 that takes
# TSIG-signed updates (key sites/dns/ddns.key): www.vm.lab names the web VM.
set -eu
cd "$(dirname "$0")"
HERE=$(pwd)
ACCEL=${LIFEBOAT_VM_ACCEL:-tcg}
IMAGES=${LIFEBOAT_VM_IMAGES:-$HERE/.images} # a cache shared by copies of this folder

case ${1:-up} in
down)
	for pidfile in sites/*/*/qemu.pid sites/dns/named.pid; do
		[ -f "$pidfile" ] && kill "$(cat "$pidfile")" 2>/dev/null || true
	done
	for ns in lbvm-prod lbvm-rec lbvm-drill; do
		if ip netns list | grep -qx "$ns\( .*\)\?"; then
			ip netns pids "$ns" | xargs -r kill -9 2>/dev/null || true
			ip netns del "$ns"
		fi
	done
	rm -rf sites replica .lifeboat
	[ -L .images ] && rm -f .images
	exit 0 ;;
up) ;;
*) echo "usage: lab.sh up|down" >&2; exit 2 ;;
esac

[ -d sites/primary ] && { echo "lab.sh: sites/primary exists (sh lab.sh down first)" >&2; exit 2; }
ip netns list | grep -q '^lbvm-prod' && { echo "lab.sh: network namespace lbvm-prod exists (sh lab.sh down first)" >&2; exit 2; }
sh images.sh "$IMAGES"
[ "$IMAGES" = "$HERE/.images" ] || ln -sfn "$IMAGES" .images
ip netns add lbvm-prod
ip -n lbvm-prod link set lo up
ip -n lbvm-prod link add br0 type bridge
ip -n lbvm-prod addr add 10.231.1.1/24 dev br0
ip -n lbvm-prod link set br0 up
n=1
for vm in db web; do
	d=sites/primary/$vm; mkdir -p $d
	cp --sparse=always .images/$vm.img $d/root.img
	ip=10.231.1.$((9 + n))
	ip -n lbvm-prod tuntap add dev tap-$vm mode tap
	ip -n lbvm-prod link set tap-$vm master br0 up
	ip netns exec lbvm-prod qemu-system-x86_64 -name "primary:$vm" -accel "$ACCEL" -m 128 -smp 1 \
		-display none -monitor none -no-reboot -serial "file:$HERE/$d/console.log" \
		-qmp "unix:$HERE/$d/.qmp,server=on,wait=off" -pidfile "$HERE/$d/qemu.pid" -daemonize \
		-kernel .images/vmlinuz -initrd .images/initrd.gz \
		-append "console=ttyS0 quiet panic=-1 lb.ip=$ip/24" \
		-drive "file=$HERE/$d/root.img,if=virtio,format=raw,discard=unmap" \
		-chardev "socket,id=qga0,path=$HERE/$d/.qga,server=on,wait=off" -device virtio-serial-pci \
		-device virtserialport,chardev=qga0,name=org.qemu.guest_agent.0 \
		-netdev "tap,id=n0,ifname=tap-$vm,script=no,downscript=no" \
		-device "virtio-net-pci,netdev=n0,mac=52:54:00:00:01:0$n"
	n=$((n + 1))
done
if command -v named >/dev/null; then
	B=$HERE/sites/dns; mkdir -p "$B"
	tsig-keygen -a hmac-sha256 ddns-key > "$B/ddns.key"
	printf '$TTL 60\n@ IN SOA ns1.vm.lab. admin.vm.lab. 1 60 60 600 60\n  IN NS ns1.vm.lab.\nns1 IN A 127.0.0.1\nwww IN A 10.231.1.11\n' > "$B/vm.lab.zone"
	cat > "$B/named.conf" <<CONF
options { directory "$B"; pid-file "$B/named.pid"; session-keyfile "$B/session.key";
  managed-keys-directory "$B"; listen-on port 5353 { 127.0.0.1; }; listen-on-v6 { none; };
  recursion no; dnssec-validation no; };
controls { };
include "$B/ddns.key";
zone "vm.lab" { type primary; file "vm.lab.zone"; allow-update { key "ddns-key"; }; };
CONF
	named -c "$B/named.conf" </dev/null >"$B/named.log" 2>&1
	i=0
	until dig +short +time=1 +tries=1 @127.0.0.1 -p 5353 www.vm.lab A 2>/dev/null | grep -q '^10\.'; do
		i=$((i + 1)); [ $i -lt 100 ] || { echo "lab.sh: BIND does not answer on 127.0.0.1:5353" >&2; cat "$B/named.log" >&2; exit 1; }
		sleep 0.1
	done
fi
for url in http://10.231.1.10:5000/records http://10.231.1.11/cgi-bin/index; do
	i=0
	until ip netns exec lbvm-prod curl -sf --max-time 2 -o /dev/null "$url"; do
		i=$((i + 1)); [ $i -lt 120 ] || { echo "lab.sh: $url does not answer; console:" >&2; tail -5 sites/primary/*/console.log >&2; exit 1; }
		sleep 0.5
	done
done
echo "lab.sh: primary up: db at 10.231.1.10:5000, web at http://10.231.1.11/ (network namespace lbvm-prod)"
command -v named >/dev/null && echo "lab.sh: DNS: www.vm.lab at 127.0.0.1:5353 (dig @127.0.0.1 -p 5353 www.vm.lab)"
