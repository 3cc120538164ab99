#!/bin/bash
# memleak -c on a program that leaks 300 blocks of 1000 bytes from
# bl_leak_memory() and frees all it allocates in bl_alloc_and_free():
# exactly the leaked bytes and count, at the leaking function, and nothing
# at the other.
set -euo pipefail
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
leaker="$BPFLUA_WORKLOAD leak 300 1000"
fail() { echo "FAIL: $1"; cat "$tmp/out" "$tmp/err" 2>/dev/null; exit 1; }

"$BPFLUA" run memleak -c "$leaker" --sizes >"$tmp/out" 2>"$tmp/err" || fail "memleak -c"
cat "$tmp/out"
grep -A1 '^300000 bytes in 300 allocations from$' "$tmp/out" | grep -c $'^\tbl_leak_memory$' >/dev/null || fail "300000 bytes at bl_leak_memory"
! grep -q bl_alloc_and_free "$tmp/out" || fail "bl_alloc_and_free frees all it allocates"
# 600 allocations of 1000 bytes: all in the 512-1023 bucket
grep -Eq '^ +512 -> 1023 +: 600 ' "$tmp/out" || fail "--sizes: 600 in 512-1023"

"$BPFLUA" run memleak -c "$leaker" --format json -o "$tmp/json" 2>"$tmp/err" || fail "memleak json"
python3 - "$tmp/json" <<'PY' || fail "json"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
leak = [r for r in rows if r["stack"][:1] == ["bl_leak_memory"]]
assert len(leak) == 1 and leak[0]["bytes"] == 300000 and leak[0]["allocations"] == 300, rows
assert not any("bl_alloc_and_free" in r["stack"] for r in rows), rows
print("json: 300000 bytes in 300 allocations at bl_leak_memory")
PY

# --min-age: the leaks are a second old when the leaker exits
"$BPFLUA" run memleak -c "$leaker" --min-age 0.5 >"$tmp/out" 2>"$tmp/err" || fail "--min-age 0.5"
grep -q '^300000 bytes in 300 allocations from$' "$tmp/out" || fail "--min-age 0.5 keeps the leaks"
"$BPFLUA" run memleak -c "$leaker" --min-age 30 >"$tmp/out" 2>"$tmp/err" || fail "--min-age 30"
! grep -q 'bl_leak_memory' "$tmp/out" || fail "--min-age 30 leaves out younger blocks"

# without a process: a clear error, before anything is compiled
if "$BPFLUA" run memleak -d 1 2>"$tmp/err"; then fail "memleak without -p accepted"; fi
grep -q "needs -p PID or -c COMMAND" "$tmp/err" || fail "memleak without -p: message"
# kernel allocations through the kmem tracepoints
"$BPFLUA" run memleak --kernel -d 1 -T 3 >"$tmp/out" 2>"$tmp/err" || fail "--kernel"
grep -q 'allocations (' "$tmp/out" || fail "--kernel report"
echo "memleak: 8 checks passed"
