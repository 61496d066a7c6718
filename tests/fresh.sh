#!/usr/bin/env bash
# make fresh: the README's two commands on a clean Debian 12 root, the way
# CI meets a new machine. A bookworm root made by mmdebstrap (apt, make,
# git, nothing else) is cached as a tarball; each run unpacks it into a new
# folder, clones the committed HEAD of this repository into it and runs
# `make test`, then `make demo`, inside a chroot in a private mount
# namespace (its mounts vanish with it). Prints each command's closing line
# and how long it took. FRESH_REBUILD=1 makes the root again; FRESH_CACHE
# says where the tarball lives; FRESH_KEEP=1 keeps the unpacked root.
set -eu
cd "$(dirname "$0")/.."
repo=$PWD
[ "$(id -u)" = 0 ] || { echo "make fresh: run as root (it builds a chroot)" >&2; exit 2; }
cache=${FRESH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/lifeboat-fresh}
tarball=$cache/bookworm.tar
mkdir -p "$cache"
if [ ! -s "$tarball" ] || [ -n "${FRESH_REBUILD:-}" ]; then
	echo "make fresh: building a clean Debian 12 root (mmdebstrap, about a minute)"
	mmdebstrap --quiet --format=tar --variant=apt --include=ca-certificates,git,make bookworm "$tarball.part"
	mv "$tarball.part" "$tarball"
fi

root=$(mktemp -d /tmp/lifeboat-fresh.XXXXXX)
chmod 755 "$root"
cleanup() {
	# the mounts live in the namespace of the unshare below and are gone
	# with it; never delete a folder that still has something mounted
	if findmnt -rn -o TARGET | grep -q "^$root"; then
		echo "make fresh: $root still has mounts; left in place" >&2
	elif [ -z "${FRESH_KEEP:-}" ]; then
		rm -rf "$root"
	fi
}
trap cleanup EXIT
tar -C "$root" -xf "$tarball"
# no service starts when a package installs (nginx would take port 80)
printf '#!/bin/sh\nexit 101\n' > "$root/usr/sbin/policy-rc.d"
chmod 755 "$root/usr/sbin/policy-rc.d"
git clone -q --no-hardlinks "$repo" "$root/root/lifeboat"
# the network this machine reaches the registries through is the fresh
# machine's too: the CA certificates it was given locally, and node's
# setting to read the system's store
extra_ca=""
if compgen -G '/usr/local/share/ca-certificates/*.crt' >/dev/null; then
	cp /usr/local/share/ca-certificates/*.crt "$root/usr/local/share/ca-certificates/"
	extra_ca="update-ca-certificates >/dev/null 2>&1;"
fi
echo "make fresh: $(git -C "$repo" log -1 --format='%h %s' | cut -c1-72)"

inside() { # label command: runs the command in the chroot, prints its last line and time
	local label=$1 cmd=$2 t0 rc
	t0=$(date +%s)
	set +e
	# the root a mount of its own, as on a machine (ip netns exec remounts /)
	unshare --mount --propagation private sh -c "
		mount --bind '$root' '$root' &&
		mount -t proc proc '$root/proc' && mount -t sysfs sys '$root/sys' &&
		mount --rbind /dev '$root/dev' && mount -t tmpfs tmp '$root/tmp' &&
		exec chroot '$root' /usr/bin/env -i HOME=/root TERM=dumb LANG=C.UTF-8 \
			PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
			${NODE_EXTRA_CA_CERTS:+NODE_EXTRA_CA_CERTS=$NODE_EXTRA_CA_CERTS} \
			sh -c '$extra_ca cd /root/lifeboat && $cmd'" > "$cache/$label.log" 2>&1
	rc=$?
	set -e
	local last
	last=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$cache/$label.log" | tail -n 1)
	[ -n "$last" ] || last=$(grep -v '^[[:space:]]*$' "$cache/$label.log" | tail -n 1)
	printf 'make fresh: %-10s exit %d in %ds: %s\n' "$label" "$rc" $(( $(date +%s) - t0 )) "$last"
	return $rc
}

status=0
inside "make-test" "make test" || status=1
inside "make-demo" "make demo" || status=1
echo "make fresh: logs in $cache/make-test.log and $cache/make-demo.log"
exit $status
