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

# -c runs the command under trace: counts are exact
"$BPFLUA" run syscount -c "$BPFLUA_WORKLOAD getppid 12345" >"$tmp/out" 2>"$tmp/err" || { cat "$tmp/err"; exit 1; }
grep -Eq '^getppid +12345$' "$tmp/out" || { cat "$tmp/out"; echo "FAIL: -c getppid 12345"; exit 1; }

# -x: failed calls by errno
"$BPFLUA" run syscount -x -- "$BPFLUA_WORKLOAD" openfail 777 >"$tmp/out" 2>"$tmp/err" || { cat "$tmp/err"; exit 1; }
grep -Eq '^openat +ENOENT +777$' "$tmp/out" || { cat "$tmp/out"; echo "FAIL: -x openat ENOENT 777"; exit 1; }

# -L: 1 ms sleeps land in the 1 ms buckets (1000 us sits just under 1024,
# so 512-1023 and 1024-2047 are both right), none below; at least as many
# as the workload itself timed under 2048 us (a busy host makes some
# longer); JSON parses
"$BPFLUA" run syscount -L --format json -c "$BPFLUA_WORKLOAD nanosleep 100" >"$tmp/json" 2>"$tmp/err" || { cat "$tmp/err"; exit 1; }
python3 - "$tmp/json" "$(sed -n 's/^sleeps under 2048 us: //p' "$tmp/err")" <<'PY' || exit 1
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]  # the workload prints its pid too
r = [r for r in rows if r["syscall"] == "clock_nanosleep"]
assert len(r) == 1, rows
r = r[0]
assert r["count"] == 100, r
near = sum(b["count"] for b in r["hist"] if b["from_us"] in (512, 1024))
below = sum(b["count"] for b in r["hist"] if b["to_us"] < 512)
fast = int(sys.argv[2])
assert near >= fast >= 50 and below == 0, (fast, r["hist"])
assert sum(b["count"] for b in r["hist"]) == 100, r["hist"]
assert 1000 <= r["avg_us"] < 5000, r
print("latency json:", r["count"], "calls, avg", r["avg_us"], "us")
PY
"$BPFLUA" run syscount -L -c "$BPFLUA_WORKLOAD nanosleep 10" >"$tmp/out" 2>&1
grep -q '^clock_nanosleep:$' "$tmp/out" && grep -q 'usecs' "$tmp/out" || { cat "$tmp/out"; echo "FAIL: -L text histogram"; exit 1; }

# -P: per process, with the name the command has after exec
"$BPFLUA" run syscount -P -s getppid -c "$BPFLUA_WORKLOAD getppid 5000" >"$tmp/out" 2>"$tmp/err" || { cat "$tmp/err"; exit 1; }
awk '$2 == "workload" && $3 == 5000 { ok = 1 } END { exit !ok }' "$tmp/out" || { cat "$tmp/out"; echo "FAIL: -P"; exit 1; }

# --comm and -s filter: two copies of the workload under names of their own
# (other tests run the workload at the same time); the other one is left out
cp "$BPFLUA_WORKLOAD" "$tmp/bl_commtest"
cp "$BPFLUA_WORKLOAD" "$tmp/otherload"
rm -f "$tmp/gate" "$tmp/err"
"$BPFLUA" run syscount --comm bl_commtest -s getppid -d 3 >"$tmp/out" 2>"$tmp/err" &
tracer=$!
for _ in $(seq 1 600); do grep -q Tracing "$tmp/err" 2>/dev/null && break; sleep 0.05; done
"$tmp/bl_commtest" getppid 1000 >/dev/null
"$tmp/otherload" getppid 500 >/dev/null
wait "$tracer" || { cat "$tmp/err"; exit 1; }
[ "$(grep -c . "$tmp/out")" = 2 ] && grep -Eq '^getppid +1000$' "$tmp/out" || { cat "$tmp/out"; echo "FAIL: --comm/-s filters"; exit 1; }

# -i: a report every interval, then the final one
"$BPFLUA" run syscount -i 0.5 -d 1.6 -T 1 >"$tmp/out" 2>"$tmp/err" || { cat "$tmp/err"; exit 1; }
[ "$(grep -c '^\[[0-9:]*\]$' "$tmp/out")" = 4 ] && [ "$(grep -c '^SYSCALL' "$tmp/out")" = 4 ] \
	|| { cat "$tmp/out"; echo "FAIL: -i 0.5 over 1.6 s: 3 interval reports and a final one"; exit 1; }

# bad arguments are refused before anything is compiled
if "$BPFLUA" run syscount -s nosuchcall 2>"$tmp/err"; then echo "FAIL: -s nosuchcall accepted"; exit 1; fi
grep -q "no syscall named 'nosuchcall'" "$tmp/err" || { cat "$tmp/err"; exit 1; }
if "$BPFLUA" run syscount -c "/nonexistent/cmd" 2>"$tmp/err"; then echo "FAIL: missing command accepted"; exit 1; fi
grep -q "cannot run" "$tmp/err" || { cat "$tmp/err"; exit 1; }
echo "syscount: 12 checks passed"
