#!/bin/bash
# Runs a Lua unit test as nobody with no capabilities: it must need neither
# root nor a kernel. What it reads (the binary, lua/, probes/, scripts/, the
# tests) is copied into a directory nobody can read, since the checkout may
# sit where nobody cannot (root's home, as on a fresh machine).
#   unprivileged.sh BPFLUA SOURCE_DIR TEST.lua
set -euo pipefail
bpflua=$1 src=$2 test=$3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/tests"
cp -r "$src/lua" "$src/probes" "$src/scripts" "$tmp/"
cp -r "$src/tests/unit" "$src/tests/lsan.supp" "$tmp/tests/"
cp "$bpflua" "$tmp/bpflua"
chmod -R a+rX "$tmp"
cd "$tmp"
BPFLUA_DATA_DIR="$tmp" BPFLUA_UNIT_UNPRIVILEGED=1 \
	LSAN_OPTIONS="suppressions=$tmp/tests/lsan.supp:print_suppressions=0" \
	setpriv --reuid=nobody --regid=nogroup --clear-groups --inh-caps=-all -- \
	"$tmp/bpflua" "$tmp/tests/unit/$(basename "$test")"
