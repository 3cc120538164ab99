#!/bin/bash
# Issue 19: the running kernel's tree is a Debian split tree whose `scripts`
# and `tools` links dangle (linux-kbuild is not installed). The compiler needs
# neither, so bpflua uses it as the exact tree, with no fallback warning. A
# tree without include/generated/autoconf.h is named with that file, in the
# warning, the error and doctor, and no package the host has is asked for.
#
# Runs in a private mount namespace: tmpfs over /lib/modules holds a fake
# /lib/modules/$(uname -r)/build, made from the host's Debian linux-headers
# tree, and an empty tmpfs over linux-kbuild makes its links dangle. The host
# itself is untouched.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
if [ -z "${BPFLUA_IN_NS:-}" ]; then
	exec env BPFLUA_IN_NS=1 bash "$here/../tools/private_ns.sh" bash "$here/$(basename "$0")" "$@"
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export BPFLUA_CACHE_DIR="$tmp/cache"
rel=$(uname -r)
checks=0

fail() { echo "FAIL: $*"; exit 1; }
expect() { # $1: file, $2: wanted (ERE), $3: what
	checks=$((checks + 1))
	grep -Eq -- "$2" "$1" || { echo "FAIL: $3: want /$2/ in:"; cat "$1"; exit 1; }
}
private_mount() { # every mount here is private (tools/private_ns.sh)
	mount "$@"
}

arch=$(ls -d /usr/src/linux-headers-*-amd64 2>/dev/null | sort -V | tail -1)
[ -n "$arch" ] && [ -f "$arch/Makefile" ] || fail "needs Debian's split linux-headers-*-amd64 tree in /usr/src"
common=$(sed -n 's|^include \(.*\)/Makefile$|\1|p' "$arch/Makefile")
[ -d "$common" ] || fail "$arch/Makefile names no -common tree"
[ -L "$arch/scripts" ] || fail "$arch/scripts is not a link"
kbuild=$(dirname "$(realpath -m "$arch/scripts")")
[ -d "$kbuild" ] || fail "$kbuild (linux-kbuild) is not there to hide"

private_mount -t tmpfs none "$kbuild"
private_mount -t tmpfs none /lib/modules
[ -L "$arch/scripts" ] && [ ! -e "$arch/scripts" ] && [ ! -e "$common/scripts" ] || fail "scripts links do not dangle"
build=/lib/modules/$rel/build
mkdir -p "/lib/modules/$rel"

# 1. the split tree, as Debian links it, with dangling scripts and tools
ln -s "$arch" "$build"
"$BPFLUA" "$here/cache_probe.lua" >"$tmp/out" 2>"$tmp/err" || { cat "$tmp/out" "$tmp/err"; fail "run with the split tree"; }
expect "$tmp/out" '^count 4321$' "split tree: count"
checks=$((checks + 1))
[ ! -s "$tmp/err" ] || { cat "$tmp/err"; fail "split tree: warnings (want none)"; }
"$BPFLUA" doctor >"$tmp/doc" 2>&1 || true
expect "$tmp/doc" "^\[ ok \] headers +kernel headers $rel from $build$" "split tree: doctor says exact"

# 2. a copy of its arch half without include/generated/autoconf.h: rejected
# by name, and the nearest tree used
rm "$build"
cp -a "$arch" "$build"
[ -L "$build/scripts" ] && [ ! -e "$build/scripts" ] || fail "the copy's scripts link does not dangle"
rm "$build/include/generated/autoconf.h"
why="$build \(with $common\) has no include/generated/autoconf.h"
rm -rf "$BPFLUA_CACHE_DIR"
"$BPFLUA" "$here/cache_probe.lua" >"$tmp/out" 2>"$tmp/err" || { cat "$tmp/out" "$tmp/err"; fail "run with the broken tree"; }
expect "$tmp/out" '^count 4321$' "no autoconf.h, nearest used: count"
expect "$tmp/err" "no usable kernel headers for the running kernel $rel \($why\); using" "no autoconf.h: warning names tree and file"
"$BPFLUA" doctor >"$tmp/doc" 2>&1 || true
expect "$tmp/doc" "^\[warn\] headers .*its own tree was rejected: $why" "no autoconf.h: doctor names tree and file"
expect "$tmp/doc" "-> repair the rejected tree" "no autoconf.h: doctor's remedy"

# 3. and nothing else to fall back to: the error names the tree and the file
mkdir /lib/modules/common
mount --bind "$common" /lib/modules/common
rm "$build/Makefile"
echo "include /lib/modules/common/Makefile" >"$build/Makefile"
private_mount -t tmpfs none /usr/src
why="$build \(with /lib/modules/common\) has no include/generated/autoconf.h"
if "$BPFLUA" "$here/cache_probe.lua" >"$tmp/out" 2>"$tmp/err"; then cat "$tmp/out"; fail "ran with no usable tree"; fi
expect "$tmp/err" "no usable kernel headers for $rel: $why" "no tree at all: the error names tree and file"
checks=$((checks + 1))
! grep -q "install linux-headers-$rel" "$tmp/err" || fail "asks to install the package the tree came from"
"$BPFLUA" doctor >"$tmp/doc" 2>&1 || true
expect "$tmp/doc" "^\[FAIL\] headers +no usable kernel headers for $rel: $why" "no tree at all: doctor"
echo "headers_split: $checks checks passed"
