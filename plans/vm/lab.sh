#!/bin/sh
# lab.sh up|down: the primary site of plan.yaml. `up` builds the images
# (once, into .images), makes production's network (network namespace
# lbvm-prod: bridge br0 at 10.231.1.1/24) and boots the two VMs there from
# copies of the images, each answering QMP on sites/primary/NAME/.qmp so
# lifeboat finds them. `down` stops every VM of every site and removes the
# networks and the sites' folders.
set -eu
cd "$(dirname "$0")"
HERE=$(pwd)
ACCEL=${LIFEBOAT_VM_ACCEL:-tcg}

case ${1:-up} in
down)
	for pidfile in sites/*/*/qemu.pid; do
		[ -f "$pidfile" ] && kill "$(cat "$pidfile")" 2>/dev/null || true
	done
	for ns in lbvm-prod lbvm-rec lbvm-drill; do
		if ip netns list | grep -qx "$ns\( .*\)\?"; then
			ip netns pids "$ns" | xargs -r kill -9 2>/dev/null || true
			ip netns del "$ns"
		fi
	done
	rm -rf sites replica .lifeboat
	exit 0 ;;
up) ;;
*) echo "usage: lab.sh up|down" >&2; exit 2 ;;
esac

[ -d sites/primary ] && { echo "lab.sh: sites/primary exists (sh lab.sh down first)" >&2; exit 2; }
ip netns list | grep -q '^lbvm-prod' && { echo "lab.sh: network namespace lbvm-prod exists (sh lab.sh down first)" >&2; exit 2; }
sh images.sh
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
		-netdev "tap,id=n0,ifname=tap-$vm,script=no,downscript=no" \
		-device "virtio-net-pci,netdev=n0,mac=52:54:00:00:01:0$n"
	n=$((n + 1))
done
for url in http://10.231.1.10:5000/records http://10.231.1.11/cgi-bin/index; do
	i=0
	until ip netns exec lbvm-prod curl -sf --max-time 2 -o /dev/null "$url"; do
		i=$((i + 1)); [ $i -lt 120 ] || { echo "lab.sh: $url does not answer; console:" >&2; tail -5 sites/primary/*/console.log >&2; exit 1; }
		sleep 0.5
	done
done
echo "lab.sh: primary up: db at 10.231.1.10:5000, web at http://10.231.1.11/ (network namespace lbvm-prod)"
