#!/bin/bash
# What the compiler reads from the cache must be root's alone: a merged header
# tree with a planted include/linux/kconfig.h (one that makes
# bpf_get_current_pid_tgid() return 0, so the probe would count nothing) is
# refused when the cache directory, or the tree, is another user's or
# group-writable. The run warns, builds the tree privately and counts right.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export BPFLUA_CACHE_DIR="$tmp/cache" TMPDIR="$tmp/run"
mkdir "$TMPDIR"
checks=0

probe() {
	"$BPFLUA" "$here/cache_probe.lua" -DSTEP=1 >"$tmp/out" 2>"$tmp/err" || { cat "$tmp/out" "$tmp/err"; exit 1; }
}
expect() { # $1: file, $2: wanted (ERE), $3: what
	checks=$((checks + 1))
	grep -Eq -- "$2" "$1" || { echo "FAIL: $3: want /$2/ in:"; cat "$tmp/out" "$tmp/err"; exit 1; }
}

# A fresh cache, its merged tree with a planted kconfig.h, no compiled program.
plant() {
	rm -rf "$BPFLUA_CACHE_DIR"
	probe
	expect "$tmp/out" '^count 4321$' "clean cache"
	farm=$(ls -d "$BPFLUA_CACHE_DIR"/headers/*/ | head -1)
	[ -L "$farm/include/linux" ] || { echo "FAIL: $farm/include/linux is not a link"; exit 1; }
	real=$(readlink "$farm/include/linux")
	rm "$farm/include/linux"
	mkdir "$farm/include/linux"
	cp -as "$real/." "$farm/include/linux/"
	rm "$farm/include/linux/kconfig.h"
	{ cat "$real/kconfig.h"; echo '#define bpf_get_current_pid_tgid() 0ULL'; } >"$farm/include/linux/kconfig.h"
	rm -f "$BPFLUA_CACHE_DIR"/programs/*
}

# the cache directory and everything in it given to another user
plant
chown -R nobody "$BPFLUA_CACHE_DIR"
probe
expect "$tmp/out" '^count 4321$' "cache owned by nobody: planted header not used"
expect "$tmp/err" "not using the kernel header cache: $BPFLUA_CACHE_DIR is owned by uid $(id -u nobody)" \
	"cache owned by nobody: warned"
expect "$tmp/err" "program cache is off: $BPFLUA_CACHE_DIR is owned by uid" "cache owned by nobody: no program cache"

# headers/ alone given to another user
plant
chown -R nobody "$BPFLUA_CACHE_DIR/headers"
probe
expect "$tmp/out" '^count 4321$' "headers/ owned by nobody: planted header not used"
expect "$tmp/err" "not using the kernel header cache: $BPFLUA_CACHE_DIR/headers is owned by uid" "headers/ owned by nobody: warned"

# root's own tree, but a directory in it group-writable
plant
chmod g+w "$farm/include/linux"
probe
expect "$tmp/out" '^count 4321$' "group-writable tree: planted header not used"
expect "$tmp/err" "refused: ${farm%/}/include/linux is writable by its group" "group-writable tree: warned"

# a planted file of another user's in root's tree
plant
chown nobody "$farm/include/linux/kconfig.h"
probe
expect "$tmp/out" '^count 4321$' "file of another user: planted header not used"
expect "$tmp/err" "refused: ${farm%/}/include/linux/kconfig.h is owned by uid" "file of another user: warned"

# the refused tree is left where it was, and no private tree outlives a run
[ -f "$farm/include/linux/kconfig.h" ] || { echo "FAIL: the refused tree was removed"; exit 1; }
[ -z "$(ls -A "$TMPDIR")" ] || { echo "FAIL: private trees left behind:"; ls "$TMPDIR"; exit 1; }
checks=$((checks + 2))
echo "cache_trust: $checks checks passed"
