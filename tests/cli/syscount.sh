#!/bin/bash
# bpflua run syscount -p PID -d 2, while PID makes exactly 20000 getppid
# calls, reports getppid 20000; the same with BTF hidden.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$tmp"' EXIT

check() { # $1: prefix command (maybe empty)
	rm -f "$tmp/gate" "$tmp/out" "$tmp/err" "$tmp/pid"
	"$BPFLUA_WORKLOAD" getppid 20000 "$tmp/gate" >"$tmp/pid" &
	local wl=$!
	while [ ! -s "$tmp/pid" ]; do sleep 0.01; done
	sleep 0.01
	local pid
	pid=$(head -1 "$tmp/pid")
	$1 "$BPFLUA" run syscount -p "$pid" -d 3 >"$tmp/out" 2>"$tmp/err" &
	local tracer=$!
	# the tracer says "Tracing" once its probes are attached
	for _ in $(seq 1 600); do grep -q Tracing "$tmp/err" && break; sleep 0.05; done
	grep -q Tracing "$tmp/err" || { cat "$tmp/err"; echo "tracer never started"; exit 1; }
	touch "$tmp/gate"
	wait "$wl"
	wait "$tracer" || { cat "$tmp/err"; echo "tracer failed"; exit 1; }
	cat "$tmp/out"
	if ! grep -Eq '^getppid +20000$' "$tmp/out"; then
		echo "FAIL: expected 'getppid 20000' ($1)"
		exit 1
	fi
}

check ""
check "$here/../no_btf.sh"

# json output parses line by line and carries the same number
"$BPFLUA" run syscount -d 0.5 --format json >"$tmp/json"
while read -r line; do
	printf '%s' "$line" | grep -Eq '^\{"syscall":"[a-z0-9_]+","count":[0-9]+\}$' || { echo "bad json: $line"; exit 1; }
done <"$tmp/json"
echo "syscount: 3 checks passed"
