#!/bin/bash
# Builds, once, what the kernel matrix boots: a Debian 12 root image holding
# bpflua's run and test packages and every matrix kernel's modules and header
# tree, plus one kernel and initramfs per kernel under $CACHE/kernels/.
# Rebuilt only when this script, the guest stub or the package lists change.
#   tests/vm/image.sh CACHE_DIR        (RUN_PKGS and TEST_PKGS from the environment)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cache=$1
: "${RUN_PKGS:?} ${TEST_PKGS:?}"

# the only kernels fetched from Debian 11; the 6.1 kernel is Debian 12's current one
K510=5.10.0-32-amd64
# what the guest's init needs, and xxd, which tests/cli/cache.sh uses but
# dev.sh's TEST_PKGS does not list (the host has it from elsewhere)
GUEST_PKGS="initramfs-tools kmod iproute2 bash coreutils util-linux mount xxd"

# one build at a time; a second caller waits, then finds the image built
mkdir -p "$cache"
exec 8>"$cache/image.lock"
flock 8
stamp=$( { cat "$0" "$here/stub-init"; echo "$RUN_PKGS $TEST_PKGS"; } | sha256sum | cut -c1-16)
if [ -f "$cache/image.stamp" ] && [ "$(cat "$cache/image.stamp")" = "$stamp" ] &&
	[ -f "$cache/root.img" ]; then
	exit 0
fi

# the mirror is the host's own, read from its apt configuration
src=/etc/apt/sources.list.d/debian.sources
mirror=$(awk '/^URIs:/ { print $2; exit }' "$src")
[ -n "$mirror" ] || { echo "image.sh: no URIs: line in $src" >&2; exit 1; }

command -v debootstrap >/dev/null || apt-get install -y -qq --no-install-recommends debootstrap >/dev/null
root=$cache/root.build
rm -rf "$root" "$cache/root.img" "$cache/image.stamp" "$cache/kernels"
start=$SECONDS
echo "vm: debootstrap Debian 12 into $root" >&2
debootstrap --variant=minbase bookworm "$root" "$mirror" >"$cache/debootstrap.log" 2>&1 ||
	{ tail -20 "$cache/debootstrap.log" >&2; exit 1; }

mounts=()
cleanup() { for ((i = ${#mounts[@]} - 1; i >= 0; i--)); do umount -l "${mounts[i]}" || true; done; }
trap cleanup EXIT
for m in proc sys dev dev/pts; do
	mount --bind "/$m" "$root/$m"
	mounts+=("$root/$m")
done

rm -f "$root/etc/apt/sources.list"
cp "$src" "$root/etc/apt/sources.list.d/debian.sources"
cat >"$root/etc/apt/sources.list.d/bullseye.sources" <<SRC
Types: deb
URIs: $mirror
Suites: bullseye
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
in_root() { chroot "$root" env DEBIAN_FRONTEND=noninteractive LC_ALL=C "$@"; }
echo "vm: installing packages and kernels" >&2
in_root apt-get update -qq
in_root apt-get install -y -qq --no-install-recommends $GUEST_PKGS >/dev/null
# Debian's kernels build virtio, ext4 and 9p as modules: the initramfs loads
# them; gzip because 5.10 may lack zstd initramfs support
printf '%s\n' 9p 9pnet 9pnet_virtio virtio_blk virtio_pci ext4 >>"$root/etc/initramfs-tools/modules"
sed -i 's/^COMPRESS=.*/COMPRESS=gzip/' "$root/etc/initramfs-tools/initramfs.conf"
in_root apt-get install -y -qq --no-install-recommends $RUN_PKGS $TEST_PKGS linux-image-amd64 \
	"linux-image-$K510-unsigned" >/dev/null
# Debian 11's header packages want Debian 11's gcc-10 for module builds, which
# BPF C does not need: unpack the trees without their dependencies
in_root sh -c "cd /tmp && apt-get download -qq linux-headers-$K510 linux-headers-${K510%-amd64}-common"
# (not dpkg-deb -x: its tar would put a directory in place of the /lib symlink)
for d in "$root"/tmp/linux-headers-*.deb; do
	dpkg-deb --fsys-tarfile "$d" | tar -x --keep-directory-symlink -C "$root"
done
rm -f "$root"/tmp/*.deb
in_root apt-get clean
rm -rf "$root"/var/lib/apt/lists/*

mkdir -p "$cache/kernels"
for v in "$root"/boot/vmlinuz-*; do
	rel=${v##*/vmlinuz-}
	mkdir -p "$cache/kernels/$rel"
	cp "$v" "$cache/kernels/$rel/vmlinuz"
	cp "$root/boot/initrd.img-$rel" "$cache/kernels/$rel/initrd"
done
install -m 755 "$here/stub-init" "$root/sbin/bpflua-vm-init"
echo bpflua-vm >"$root/etc/hostname"
printf '127.0.0.1 localhost bpflua-vm\n::1 localhost ip6-localhost ip6-loopback\n' >"$root/etc/hosts"

cleanup
mounts=()
size=$(($(du -sm "$root" | cut -f1) + 1024))
echo "vm: root image, ${size} MiB" >&2
truncate -s "${size}M" "$cache/root.img.tmp"
mkfs.ext4 -q -F -L bpflua-vm -d "$root" "$cache/root.img.tmp"
mv "$cache/root.img.tmp" "$cache/root.img"
rm -rf "$root"
echo "$stamp" >"$cache/image.stamp"
echo "vm: image built in $((SECONDS - start)) s: $(du -sh "$cache" | cut -f1) in $cache" >&2
