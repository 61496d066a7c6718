#!/bin/sh
# images.sh [DIR]: builds what the sample's VMs boot, from Debian packages
# only, into DIR (default: .images beside this script), once:
#   vmlinuz      the kernel of linux-image-amd64 (downloaded, not installed)
#   initrd.gz    busybox + the modules that find and mount /dev/vda
#   db.img       ext4 root of the database VM: records in /data/records,
#                served on port 5000 (GET /records, GET /cgi-bin/add?TEXT)
#   web.img      ext4 root of the web VM: port 80 shows the records it
#                reads from the database named in /etc/web.conf
# Both run QEMU's guest agent (this host's qemu-ga and its libraries) on
# the virtio port org.qemu.guest_agent.0 when the VM has one.
# Each guest takes its address from the kernel command line
# (lb.ip=ADDR/BITS, lb.gw=ADDR) and powers off on ACPI shutdown.
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
OUT=${1:-$HERE/.images}
BB=/bin/busybox
[ -x $BB ] || { echo "images.sh: $BB is missing (Debian package busybox-static)" >&2; exit 2; }
[ -x /usr/sbin/qemu-ga ] || { echo "images.sh: /usr/sbin/qemu-ga is missing (Debian package qemu-guest-agent)" >&2; exit 2; }
# built once per version of this script
STAMP=$(sha256sum "$HERE/$(basename "$0")" | cut -c1-16)
[ "$(cat "$OUT/stamp" 2>/dev/null)" = "$STAMP" ] && [ -f "$OUT/db.img" ] && [ -f "$OUT/web.img" ] &&
	[ -f "$OUT/initrd.gz" ] && [ -f "$OUT/vmlinuz" ] && exit 0
mkdir -p "$OUT"
W=$(mktemp -d "$OUT/.build.XXXXXX")
trap 'rm -rf "$W"' EXIT
cd "$W"

# the kernel: the package linux-image-amd64 depends on names this release's ABI
PKG=$(apt-cache depends linux-image-amd64 | sed -n 's/.*Depends: \(linux-image-[0-9].*-amd64\)$/\1/p' | head -n1)
[ -n "$PKG" ] || { echo "images.sh: apt does not know linux-image-amd64 (run apt-get update)" >&2; exit 2; }
KV=${PKG#linux-image-}
# (as root apt warns that its sandbox user cannot write here: harmless)
apt-get download -q "$PKG" >/dev/null 2>&1 || { apt-get update -q >/dev/null 2>&1; apt-get download -q "$PKG" >/dev/null 2>&1; } ||
	{ echo "images.sh: cannot download $PKG (apt-get download $PKG)" >&2; exit 2; }
dpkg-deb -x "$PKG"_*.deb kpkg
$BB depmod -b "$W/kpkg" "$KV"
mkdir -p initrd/bin initrd/proc initrd/sys initrd/dev initrd/newroot
cp $BB initrd/bin/busybox
MODS="virtio_pci virtio_blk virtio_net virtio_console crc32c_generic ext4 button evdev"
for m in $MODS; do
	line=$(grep -E "/$m\.ko(\.xz)?:" "kpkg/lib/modules/$KV/modules.dep")
	for f in ${line%%:*} ${line#*:}; do install -D -m644 "kpkg/lib/modules/$KV/$f" "initrd/lib/modules/$KV/$f"; done
done
grep -E "/($(echo $MODS | tr ' ' '|'))\.ko" "kpkg/lib/modules/$KV/modules.dep" > "initrd/lib/modules/$KV/modules.dep"
cat > initrd/init <<INIT
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
for m in $MODS; do modprobe \$m; done
i=0; while [ ! -b /dev/vda ] && [ \$i -lt 100 ]; do sleep 0.1; i=\$((i+1)); done
mount -t ext4 /dev/vda /newroot || { echo "lifeboat-vm: cannot mount /dev/vda"; poweroff -f; }
mount --move /dev /newroot/dev
exec switch_root /newroot /sbin/init
INIT
chmod 755 initrd/init
(cd initrd && find . | $BB cpio -o -H newc 2>/dev/null | gzip -1) > initrd.gz

# a root shared by both guests
common() {
	r=$1; mkdir -p $r/bin $r/sbin $r/proc $r/sys $r/dev $r/tmp $r/etc/acpi/PWRF $r/var/log $r/www/cgi-bin $r/data
	cp $BB $r/bin/busybox
	for a in sh mount ip httpd acpid sleep cat echo sync poweroff nc sed grep date tr head; do ln -s busybox $r/bin/$a; done
	printf '#!/bin/sh\necho "lifeboat-vm: powering off"\nsync\npoweroff -f\n' > $r/etc/acpi/PWRF/00000080
	chmod 755 $r/etc/acpi/PWRF/00000080
	for f in /usr/sbin/qemu-ga $(ldd /usr/sbin/qemu-ga | sed -n 's/.*=> \(\/[^ ]*\) .*/\1/p; s/^[[:space:]]*\(\/lib64\/[^ ]*\) .*/\1/p'); do
		install -D "$f" "$r$f"
	done
	mkdir -p $r/var/run $r/run
	cat > $r/sbin/init <<'INIT'
#!/bin/sh
export PATH=/bin
mount -t proc proc /proc; mount -t sysfs sys /sys
for w in $(cat /proc/cmdline); do case $w in lb.ip=*) IP=${w#lb.ip=};; lb.gw=*) GW=${w#lb.gw=};; esac; done
ip link set lo up; ip link set eth0 up
[ -n "${IP:-}" ] && ip addr add "$IP" dev eth0
[ -n "${GW:-}" ] && ip route add default via "$GW"
acpid -c /etc/acpi
# the agent's state (frozen or not) on tmpfs: a point taken while the file
# systems were frozen must not boot an agent that believes they still are
mount -t tmpfs -o mode=755 run /run
for p in /sys/class/virtio-ports/*; do
	[ "$(cat $p/name 2>/dev/null)" = org.qemu.guest_agent.0 ] && /usr/sbin/qemu-ga -m virtio-serial -p /dev/${p##*/} -t /run &
done
[ -x /etc/rc.app ] && /etc/rc.app
echo "lifeboat-vm: up at ${IP:-no address}"
while :; do sleep 3600; done
INIT
	chmod 755 $r/sbin/init
}
common db
printf 'record 1: created with the image\n' > db/data/records
cat > db/etc/rc.app <<'APP'
#!/bin/sh
ln -sf /data/records /www/records
httpd -p 5000 -h /www
APP
cat > db/www/cgi-bin/add <<'CGI'
#!/bin/sh
# GET /cgi-bin/add?TEXT appends TEXT (plus signs are spaces) and syncs
echo "$QUERY_STRING" | tr '+' ' ' >> /data/records
sync
printf 'Content-Type: text/plain\r\n\r\nadded\n'
CGI
chmod 755 db/etc/rc.app db/www/cgi-bin/add
mkfs.ext4 -q -F -L db -d db db.img 96M >/dev/null

common web
printf "db = 10.231.1.10:5000\n" > web/etc/web.conf
cat > web/etc/rc.app <<'APP'
#!/bin/sh
httpd -p 80 -h /www
APP
cat > web/www/cgi-bin/index <<'CGI'
#!/bin/sh
DB=$(sed -n 's/^db *= *//p' /etc/web.conf)
printf 'Content-Type: text/plain\r\n\r\n'
echo "lifeboat sample app, database at $DB"
# busybox's static wget cannot resolve; nc speaks the HTTP it needs
out=$(printf 'GET /records HTTP/1.0\r\nHost: %s\r\n\r\n' "$DB" | nc -w 3 "${DB%:*}" "${DB##*:}" 2>/dev/null)
case $out in "HTTP/1."?" 200"*) printf '%s\n' "$out" | sed '1,/^\r*$/d' ;; *) echo "database unreachable" ;; esac
CGI
printf '<meta http-equiv="refresh" content="0; url=/cgi-bin/index">\n' > web/www/index.html
chmod 755 web/etc/rc.app web/www/cgi-bin/index
mkfs.ext4 -q -F -L web -d web web.img 96M >/dev/null

cp "kpkg/boot/vmlinuz-$KV" "$OUT/vmlinuz.new" && mv "$OUT/vmlinuz.new" "$OUT/vmlinuz"
for f in initrd.gz db.img web.img; do mv $f "$OUT/$f"; done
echo "$STAMP" > "$OUT/stamp"
echo "images.sh: kernel $KV, images in $OUT"
