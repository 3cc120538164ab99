#!/bin/bash
# Runs a command where every mount it makes stays its own:
#   private_ns.sh COMMAND ARGS...
# A new mount namespace in which the whole tree is bound again under a
# private tmpfs on /dev/shm, made private and entered with chroot. A plain
# `unshare --propagation private` cannot do this in a chroot whose / is no
# mount point (a fresh Debian root made with debootstrap), and a mount on a
# shared parent would show on the host.
set -euo pipefail
if [ -z "${BPFLUA_PRIVATE_NS:-}" ]; then
	exec env BPFLUA_PRIVATE_NS=1 unshare -m --propagation unchanged bash "$0" "$@"
fi
unset BPFLUA_PRIVATE_NS
mount --make-rprivate /dev
mount -t tmpfs none /dev/shm
mkdir /dev/shm/root
mount --rbind / /dev/shm/root
mount --make-rprivate /dev/shm/root
# the same working directory inside: callers pass relative paths
exec chroot /dev/shm/root env -C "$PWD" "$@"
