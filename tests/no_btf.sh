#!/bin/bash
# Runs a command as on a host without BTF: a private mount namespace with an
# empty tmpfs over /sys/kernel/btf. The host itself is untouched: /sys is made
# private inside the namespace first, so the tmpfs cannot propagate out.
# (Not `unshare --propagation private`: that remounts / and fails in a chroot.)
set -e
exec unshare -m --propagation unchanged bash -c '
  mount --make-rprivate /sys
  mount -t tmpfs none /sys/kernel/btf
  test ! -e /sys/kernel/btf/vmlinux
  exec "$@"' bash "$@"
