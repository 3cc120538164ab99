#!/bin/bash
# Runs a command as on a host without BTF: a private mount namespace with an
# empty tmpfs over /sys/kernel/btf. The host itself is untouched.
set -e
exec unshare -m --propagation private bash -c '
  mount -t tmpfs none /sys/kernel/btf
  test ! -e /sys/kernel/btf/vmlinux
  exec "$@"' bash "$@"
