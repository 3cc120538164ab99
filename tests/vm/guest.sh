#!/bin/bash
# Runs inside a matrix guest, started by /sbin/bpflua-vm-init with the run
# directory at /vm and the repository at its host path. Sets the guest up as
# the row asks (BTF hidden or visible, the kernel's own header tree or only
# the other kernels'), runs /vm/cmd and leaves its exit status in /vm/status.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root LANG=C.UTF-8 TERM=dumb
cut -d' ' -f1 /proc/uptime >/vm/boot-seconds
dmesg -n 1 2>/dev/null
repo=$(cat /vm/repo)
build=$(cat /vm/build)
btf=$(cat /vm/btf)
headers=$(cat /vm/headers)

mkdir -p "$build"
mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000,cache=loose build "$build"
mountpoint -q /dev/pts || { mkdir -p /dev/pts; mount -t devpts -o ptmxmode=666 devpts /dev/pts; }
mountpoint -q /dev/shm || { mkdir -p /dev/shm; mount -t tmpfs tmpfs /dev/shm; }
mountpoint -q /run || mount -t tmpfs tmpfs /run
mount -t tmpfs tmpfs /tmp
mountpoint -q /sys/kernel/debug || mount -t debugfs debugfs /sys/kernel/debug
mountpoint -q /sys/kernel/tracing || mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null
mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf
mountpoint -q /sys/fs/cgroup || mount -t cgroup2 cgroup2 /sys/fs/cgroup
ip link set lo up
hostname bpflua-vm

rel=$(uname -r)
case $btf in
hidden) mount -t tmpfs none /sys/kernel/btf ;;
visible) ;;
*) echo "guest: unknown btf mode $btf" >&2; echo 125 >/vm/status; exit ;;
esac
case $headers in
own) ;;
# as on a host without this kernel's header package: the root is a
# throw-away snapshot, so the tree can simply go
nearest) rm -rf "/lib/modules/$rel/build" "/lib/modules/$rel/source" \
	"/usr/src/linux-headers-$rel" "/usr/src/linux-headers-${rel%-*}-common" ;;
*) echo "guest: unknown headers mode $headers" >&2; echo 125 >/vm/status; exit ;;
esac

export PATH=$build:$PATH BPFLUA_REPO=$repo BPFLUA_BUILD=$build
cd "$repo"
start=$(cut -d' ' -f1 /proc/uptime)
bash /vm/cmd </dev/null
status=$?
echo "$start $(cut -d' ' -f1 /proc/uptime)" >/vm/cmd-seconds
echo $status >/vm/status
sync
