#!/bin/bash
# Runs bpflua as nobody with no capabilities, for the tests of what must work
# unprivileged:  as_nobody.sh BPFLUA SOURCE_DIR ARGS...
# What bpflua reads (itself, lua/, probes/, scripts/, tests/, the workload)
# is copied into a directory nobody can read, since the checkout may sit
# where nobody cannot (root's home, as on a fresh machine); arguments that
# name files under SOURCE_DIR name their copies.
set -euo pipefail
bpflua=$1 src=$2
shift 2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp -r "$src/lua" "$src/probes" "$src/scripts" "$src/tests" "$tmp/"
cp "$bpflua" "$tmp/bpflua"
if [ -n "${BPFLUA_WORKLOAD:-}" ]; then
	cp "$BPFLUA_WORKLOAD" "$tmp/workload"
	export BPFLUA_WORKLOAD="$tmp/workload"
fi
chmod -R a+rX "$tmp"
args=()
for a in "$@"; do args+=("${a/#$src\//$tmp/}"); done
cd "$tmp"
BPFLUA_DATA_DIR="$tmp" LSAN_OPTIONS="suppressions=$tmp/tests/lsan.supp:print_suppressions=0" \
	setpriv --reuid=nobody --regid=nogroup --clear-groups --inh-caps=-all -- "$tmp/bpflua" "${args[@]}"
