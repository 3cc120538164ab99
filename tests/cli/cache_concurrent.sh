#!/bin/bash
# Four runs starting together with an empty cache all compile and count
# right: the merged header tree is built under private names and published
# by one rename, and nobody removes a tree another run compiles against.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export BPFLUA_CACHE_DIR="$tmp/cache"
rounds=3 runs=4 fail=0

for round in $(seq $rounds); do
	rm -rf "$BPFLUA_CACHE_DIR"
	pids=()
	for i in $(seq $runs); do
		timeout 120 "$BPFLUA" "$here/cache_probe.lua" -DSTEP=1 >"$tmp/out.$i" 2>"$tmp/err.$i" &
		pids+=($!)
	done
	for i in $(seq $runs); do
		wait "${pids[$((i - 1))]}"; rc=$?
		if [ $rc != 0 ] || ! grep -qx "count 4321" "$tmp/out.$i"; then
			echo "FAIL: round $round, run $i of $runs (exit $rc):"
			cat "$tmp/out.$i" "$tmp/err.$i"
			fail=$((fail + 1))
		fi
	done
	n=$(ls "$BPFLUA_CACHE_DIR/headers" | wc -l)
	[ "$n" = 1 ] || { echo "FAIL: round $round left $n entries in headers/:"; ls -a "$BPFLUA_CACHE_DIR/headers"; fail=$((fail + 1)); }
done
[ $fail = 0 ] && echo "cache_concurrent: $((rounds * runs)) concurrent cold starts succeeded"
exit $((fail > 0))
