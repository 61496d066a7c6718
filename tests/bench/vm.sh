#!/usr/bin/env bash
# make bench, part 6: virtual machines (plans/vm, QEMU under TCG here).
#  1. The RTO of an unplanned failover of the two VMs onto an empty
#     recovery site, split into restore, prepare (the re-IP inside the web
#     VM's disk), start, health checks, other actions and the engine's
#     overhead; against the floor: the same disks copied with
#     `qemu-img convert` from plain copies taken at the same moment and the
#     same VMs booted by hand, in the plan's order (the web VM once the
#     database serves), until the web VM serves the records.
#  2. How long each running VM is paused (and its file systems frozen) per
#     replicate.
#  3. Changed-block tracking: a VM with a 20 GiB data disk (BENCH_VM_DISK)
#     that writes 1% of it (200 MiB in 1 MiB pieces) between points: the
#     replicate with the dirty bitmap against one that reads and compares
#     the whole disk, and against reading the changed 200 MiB alone, each
#     from a cold page cache.
# Median of BENCH_RUNS; appends a section to docs/benchmarks.md.
set -eu
cd "$(dirname "$0")/../.."
ROOT=$PWD
BUILD=${BUILD:-build}
LB=$ROOT/$BUILD/lifeboat
GEN=$ROOT/$BUILD/tools/genimage
RUNS=${BENCH_RUNS:-3}
DISK=${BENCH_VM_DISK:-20G}
W=${BENCH_DIR:-/tmp/lifeboat-bench-vm}
OUT=$ROOT/docs/benchmarks.md
export LIFEBOAT_VM_IMAGES=$ROOT/plans/vm/.images
[ -d "$W/vm" ] && sh "$W/vm/lab.sh" down
rm -rf "$W"; mkdir -p "$W"
cp -r plans/vm "$W/"
rm -rf "$W/vm/.images" "$W/vm/sites" "$W/vm/replica" "$W/vm/.lifeboat"
cd "$W/vm"
. "$ROOT/tests/bench/lib.sh"
[ -n "${BENCH_KEEP:-}" ] || trap 'sh lab.sh down >/dev/null 2>&1' EXIT
now() { date +%s.%N; }
# a VM's disk is not in this host's page cache: each measure of part 3 starts cold
cold() { sync; echo 3 > /proc/sys/vm/drop_caches; }
since() { awk "BEGIN{printf \"%.3f\", $(now) - $1}"; }
# the guest agent of a VM of the primary: runs a shell command, waits
guest() { /usr/bin/python3 "$ROOT/tests/bench/guest.py" "sites/primary/$1/.qga" "$2"; }
data_field() { # JOURNAL FIELD: FIELD of the db VM's data disk in its sync's result (or of the result: .FIELD)
	/usr/bin/python3 -c 'import json, sys
for line in open(sys.argv[1]):
    e = json.loads(line)
    if e.get("ev") == "done" and e.get("step") == "sync/db/sync":
        r = e["result"]
        print(r[sys.argv[2][1:]] if sys.argv[2][0] == "." else r["datasets"]["data"][sys.argv[2]])' "$1" "$2"
}
journal_sum() { # JOURNAL KEY: per VM sync step, the KEY's values
	grep -o "\"$2\":[0-9.e-]*" "$1" | cut -d: -f2 | tr '\n' ' '
}

if [ "${BENCH_VM_ONLY:-}" != cbt ]; then
sh lab.sh up >/dev/null
# 2. pause and freeze per replicate (the first replicate reads the disks whole)
"$LB" replicate plan.yaml >/dev/null
for run in $(seq "$RUNS"); do
	ip netns exec lbvm-prod curl -s "http://10.231.1.10:5000/cgi-bin/add?bench+record+$run" >/dev/null
	"$LB" replicate plan.yaml >/dev/null
	j=$(ls -d .lifeboat/jobs/*-replicate-* | tail -1)/journal.jsonl
	R[paused]+=" $(journal_sum "$j" paused_seconds)"
	R[frozen]+=" $(journal_sum "$j" frozen_seconds)"
done

# 1. RTO of the failover against the floor
mkdir -p floor
for m in db web; do "$LB" restore --store replica "$m/root@latest" "floor/$m.src.img" >/dev/null; done
for run in $(seq "$RUNS"); do
	# back to before the failover: the plan's state here and in the store
	rm -f .lifeboat/plan.json
	"$LB" store state vm --store replica --phase protected --active primary --source primary --machines db,web >/dev/null
	pkill -f "lifeboat:vm:recovery" 2>/dev/null || true
	ip netns del lbvm-rec 2>/dev/null || true
	rm -rf sites/recovery
	"$LB" failover plan.yaml --yes >failover.log 2>&1 || { cat failover.log >&2; exit 1; }
	job=$("$LB" jobs | tail -1 | cut -d' ' -f1)
	line=$(rto_split ".lifeboat/jobs/$job/report.json")
	read -r rto restore prepare start health other overhead <<< "$line"
	for k in rto restore prepare start health other overhead; do R[$k]+=" ${!k}"; done
	pkill -f "lifeboat:vm:recovery" 2>/dev/null || true
	sleep 1
	# the floor: copy the disks, fix the web VM's configuration, boot both by hand
	t0=$(now)
	ip netns add lbvm-fl; ip -n lbvm-fl link set lo up; ip -n lbvm-fl link add br0 type bridge
	ip -n lbvm-fl addr add 10.231.2.1/24 dev br0; ip -n lbvm-fl link set br0 up
	n=10
	for m in db web; do
		qemu-img convert -O raw "floor/$m.src.img" "floor/$m.img"
		[ $m = web ] && printf 'db = 10.231.2.10:5000\n' > floor/web.conf &&
			debugfs -w -R "rm /etc/web.conf" floor/web.img >/dev/null 2>&1 &&
			debugfs -w -R "write floor/web.conf /etc/web.conf" floor/web.img >/dev/null 2>&1
		ip -n lbvm-fl tuntap add dev tap-$m mode tap; ip -n lbvm-fl link set tap-$m master br0 up
		ip netns exec lbvm-fl qemu-system-x86_64 -name floor:$m -accel tcg -m 128 -display none -monitor none \
			-no-reboot -serial none -daemonize -pidfile "$PWD/floor/$m.pid" -kernel .images/vmlinuz \
			-initrd .images/initrd.gz -append "console=ttyS0 quiet panic=-1 lb.ip=10.231.2.$n/24" \
			-drive "file=$PWD/floor/$m.img,if=virtio,format=raw" \
			-netdev "tap,id=n0,ifname=tap-$m,script=no,downscript=no" -device "virtio-net-pci,netdev=n0,mac=52:54:00:00:02:$n"
		# the plan's order: web only once the database serves
		[ $m = db ] && until ip netns exec lbvm-fl curl -s --max-time 5 http://10.231.2.10:5000/records | grep -q "bench record"; do sleep 0.2; done
		n=$((n + 1))
	done
	until ip netns exec lbvm-fl curl -s --max-time 5 http://10.231.2.11/cgi-bin/index | grep -q "bench record"; do sleep 0.2; done
	R[floor]+=" $(since "$t0")"
	kill "$(cat floor/db.pid)" "$(cat floor/web.pid)"; sleep 0.5; ip netns del lbvm-fl
	printf '  run %d: RTO %.2fs (restore %.2f, prepare %.3f, start %.2f, health %.2f, other %.3f, engine %.4f), floor %s s\n' \
		"$run" "$rto" "$restore" "$prepare" "$start" "$health" "$other" "$overhead" "${R[floor]##* }"
done
for k in "${!R[@]}"; do R[$k]=$(median "${R[$k]}"); done
sh lab.sh down >/dev/null 2>&1
fi

# 3. changed-block tracking on a large disk (a new primary and store)
pkill -f "lifeboat:vm:recovery" 2>/dev/null || true
sh lab.sh up >/dev/null
"$GEN" create sites/primary/db/data.img "$DISK" 7 >/dev/null
echo "  the VM's data disk: $DISK ($(du -h sites/primary/db/data.img | cut -f1) allocated)"
old=$(cat sites/primary/db/qemu.pid); kill "$old"
while kill -0 "$old" 2>/dev/null; do sleep 0.1; done
ip netns exec lbvm-prod qemu-system-x86_64 -name "primary:db" -accel tcg -m 128 -display none -monitor none -no-reboot \
	-serial "file:$PWD/sites/primary/db/console.log" -qmp "unix:$PWD/sites/primary/db/.qmp,server=on,wait=off" \
	-pidfile "$PWD/sites/primary/db/qemu.pid" -daemonize -kernel .images/vmlinuz -initrd .images/initrd.gz \
	-append "console=ttyS0 quiet panic=-1 lb.ip=10.231.1.10/24" \
	-drive "file=$PWD/sites/primary/db/root.img,if=virtio,format=raw" \
	-drive "file=$PWD/sites/primary/db/data.img,if=virtio,format=raw" \
	-chardev "socket,id=qga0,path=$PWD/sites/primary/db/.qga,server=on,wait=off" -device virtio-serial-pci \
	-device virtserialport,chardev=qga0,name=org.qemu.guest_agent.0 \
	-netdev tap,id=n0,ifname=tap-db,script=no,downscript=no -device virtio-net-pci,netdev=n0
until guest db true 2>/dev/null; do sleep 0.5; done
sed -i 's|      - { name: root, kind: image, path: root.img }|      - { name: root, kind: image, path: root.img }\n      - { name: data, kind: image, path: data.img }|' plan.yaml
sed -i '0,/data.img }/!{/data.img }/d}' plan.yaml # only the db machine has it
"$LB" validate plan.yaml >/dev/null
bytes=$(stat -c %s sites/primary/db/data.img)
write_1pct() { # SEED: 200 MiB of new data in 1 MiB pieces spread over the disk, written by the guest
	guest db "dd if=/dev/urandom of=/tmp/r bs=1M count=8 2>/dev/null; i=0; while [ \$i -lt 200 ]; do
		dd if=/tmp/r of=/dev/vdb bs=1M count=1 skip=\$((i % 8)) seek=\$(( (i * 97 + $1) % $((bytes >> 20)) )) conv=notrunc 2>/dev/null
		echo $1-\$i | dd of=/dev/vdb bs=1 seek=\$(( ((i * 97 + $1) % $((bytes >> 20))) * 1048576 )) conv=notrunc 2>/dev/null
		i=\$((i + 1)); done; sync" >/dev/null
}
t0=$(now); "$LB" replicate plan.yaml >/dev/null; initial=$(since "$t0")
for run in $(seq "$RUNS"); do
	write_1pct "$run"
	cold; t0=$(now); "$LB" replicate plan.yaml >/dev/null; R[cbt]+=" $(since "$t0")"
	j=$(ls -d .lifeboat/jobs/*-replicate-* | tail -1)/journal.jsonl
	grep -q '"data":{[^}]*"changed_blocks"' "$j" ||
		{ echo "vm bench: the replicate did not use the bitmap:" >&2; grep sync/db/sync "$j" >&2; exit 1; }
	R[cbt_read]+=" $(data_field "$j" bytes_read)"
	R[cbt_pause]+=" $(data_field "$j" .paused_seconds)"
	R[cbt_sync]+=" $(data_field "$j" seconds)"
	# the changed 200 MiB read alone (1 MiB pieces, the same places)
	# the engine's fixed cost per sync: the same disk, nothing changed, cold
	point=$(data_field "$j" point)
	: > nothing
	cold; R[fixed]+=" $("$LB" sync sites/primary/db/data.img --store replica --as db/data --site primary \
		--changed nothing --since "$point" --json | sed 's/.*"seconds":\([0-9.]*\).*/\1/')"
	cold
	R[read200]+=" $(/usr/bin/python3 -c 'import os, sys, time
fd = os.open(sys.argv[1], os.O_RDONLY); mib = int(sys.argv[2]) >> 20; run = int(sys.argv[3])
t = time.monotonic()
for i in range(200): os.pread(fd, 1 << 20, ((i * 97 + run) % mib) << 20)
print("%.3f" % (time.monotonic() - t))' sites/primary/db/data.img "$bytes" "$run")"
	write_1pct "$((run + 100))"
	rm -f sites/primary/db/.cbt-data.json # no bitmap: the whole disk is read and compared
	cold; t0=$(now); "$LB" replicate plan.yaml >/dev/null; R[full]+=" $(since "$t0")"
	j=$(ls -d .lifeboat/jobs/*-replicate-* | tail -1)/journal.jsonl
	R[full_pause]+=" $(data_field "$j" .paused_seconds)"
	R[full_sync]+=" $(data_field "$j" seconds)"
	printf '  run %d: with the bitmap %ss, whole disk %ss, reading the 200 MiB alone %ss\n' "$run" \
		"${R[cbt]##* }" "${R[full]##* }" "${R[read200]##* }"
done
for k in cbt cbt_read cbt_pause cbt_sync fixed read200 full full_pause full_sync; do R[$k]=$(median "${R[$k]}"); done
ratio=$(awk "BEGIN{printf \"%.1f\", ${R[cbt_sync]} / ${R[read200]}}")
ratio_work=$(awk "BEGIN{printf \"%.1f\", (${R[cbt_sync]} - ${R[fixed]}) / ${R[read200]}}")
if [ "${BENCH_VM_ONLY:-}" != cbt ]; then
{
	echo
	echo "## Virtual machines (plans/vm, QEMU under TCG)"
	echo
	echo "\`tests/bench/vm.sh\`, median of $RUNS runs. Two VMs (128 MiB, 1 vCPU, a Debian kernel and busybox"
	echo "on 96 MiB ext4 disks), each site a network namespace; no KVM on this machine."
	echo
	echo "Unplanned failover onto an empty recovery site, from the command's start to every health check"
	echo "passing (the RTO in report.json), split into the steps' own work on the critical path and the"
	echo "engine's overhead; the floor restores the same disks with \`qemu-img convert\` from plain copies,"
	echo "rewrites the web VM's configuration with debugfs and boots the VMs by hand in the plan's order"
	echo "(the web VM once the database serves) until the web VM serves the records:"
	echo
	echo "| RTO | restore | prepare (re-IP in the disk) | start | health checks (boot) | other actions | engine overhead | floor (by hand) |"
	echo "|---|---|---|---|---|---|---|---|"
	printf '| %.2f s | %.2f s | %.3f s | %.2f s | %.2f s | %.2f s | %.3f s | %.2f s |\n' "${R[rto]}" "${R[restore]}" \
		"${R[prepare]}" "${R[start]}" "${R[health]}" "${R[other]}" "${R[overhead]}" "${R[floor]}"
	echo
	echo "The boot is most of it: a VM under TCG takes 10 to 12 s to serve. Health checks poll every 0.5 s."
	echo
	echo "A replicate of the running VMs pauses each for its own sync (QMP stop/cont) and freezes its file"
	printf 'systems through the guest agent: median pause %.3f s, frozen %.3f s per VM.\n' "${R[paused]}" "${R[frozen]}"
} >> "$OUT"
fi
{
	echo
	echo "### Changed-block tracking (\`tests/bench/vm.sh\`, median of $RUNS runs)"
	echo
	echo "The db VM with a $DISK data disk ($(numfmt --to=iec "$bytes") generated, holes"
	echo "included; the initial replicate took $initial s) writes 1% of it (200 MiB of new data in 1 MiB"
	echo "pieces) between points:"
	echo
	echo "| | the data disk's sync | it read | VM paused | \`lifeboat replicate\` (both VMs) |"
	echo "|---|---|---|---|---|"
	printf '| with the dirty bitmap | %.2f s | %s | %.2f s | %.2f s |\n' "${R[cbt_sync]}" \
		"$(numfmt --to=iec "${R[cbt_read]}")" "${R[cbt_pause]}" "${R[cbt]}"
	printf '| whole disk read and compared | %.2f s | %s | %.2f s | %.2f s |\n' "${R[full_sync]}" \
		"$(numfmt --to=iec "$bytes")" "${R[full_pause]}" "${R[full]}"
	printf '| the same disk, nothing changed (the fixed cost of a sync) | %.2f s | 0 | | |\n' "${R[fixed]}"
	printf '| reading the changed 200 MiB alone (200 preads of 1 MiB) | %.2f s | 200M | | |\n' "${R[read200]}"
	echo
	printf 'With the bitmap the data disk costs %sx the time of reading what changed (goal: at most 3x);\n' "$ratio"
	printf 'without the fixed cost of a sync (opening the store and loading its index), %sx.\n' "$ratio_work"
	echo "Each of the three starts with a cold page cache (drop_caches), as a VM's disk would be."
	echo "The guest writes pieces of 8 MiB of random data, so the store dedups most of them: the time"
	echo "measured is reading and hashing what changed. \`lifeboat replicate\` adds what every replicate"
	echo "does: freezing and pausing both VMs, the web VM's sync, the store's points and retention."
} >> "$OUT"
echo "vm: RTO ${R[rto]:-} s (floor ${R[floor]:-} s); CBT ${R[cbt_sync]} s vs whole disk ${R[full_sync]} s (reading alone ${R[read200]} s, fixed ${R[fixed]} s)"
