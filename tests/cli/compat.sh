#!/bin/bash
# tests/compat: three of BCC's examples (examples/tracing), written again in
# Lua line by line, run as users run them and checked against workloads:
#   urandomread.lua            a tracepoint and trace_fields: 5 getrandom(64)
#                              calls of a known pid print GOTBITS 512 five times
#   mallocstacks.lua PID       a uprobe on libc's malloc with user stacks: the
#                              workload's two call sites allocate N * SIZE each
#   stack_buildid_example.lua  a perf event (49 Hz on CPU 0) with build-id
#                              stacks: a CPU burner pinned to CPU 0 is sampled
#                              in bl_burn_cpu, named through its build id
. "$(dirname "$0")/lib.sh"
BPFLUA=${BPFLUA:?} W=${BPFLUA_WORKLOAD:?}
compat=$(cd "$(dirname "$0")/../compat" && pwd)

# --- urandomread: Ctrl-C ends it, as in BCC
"$BPFLUA" "$compat/urandomread.lua" >"$tmp/ur.out" 2>"$tmp/ur.err" &
tracer=$!
check "urandomread printed its header" wait_for "$tmp/ur.out" GOTBITS
sh -c 'echo $$ >"$1"; exec python3 -c "import os
for i in range(5): os.getrandom(64)"' sh "$tmp/py.pid"
py=$(cat "$tmp/py.pid")
for _ in $(seq 1 100); do [ "$(grep -cE "^[0-9.]+ +python3 +$py +512$" "$tmp/ur.out")" = 5 ] && break; sleep 0.05; done
kill -INT $tracer
wait $tracer
rc=$?
check "urandomread ends on Ctrl-C (rc $rc)" test $rc = 0 -o $rc = 130
check "five lines of 512 bits for python3 $py: $(grep -c " $py " "$tmp/ur.out") lines of that pid" \
	test "$(grep -cE "^[0-9.]+ +python3 +$py +512$" "$tmp/ur.out")" = 5
check "the header as BCC prints it" grep -qx "TIME(s)            COMM             PID    GOTBITS" "$tmp/ur.out"

# --- mallocstacks: the workload starts behind a gate, so its pid is known first
N=100 SIZE=4000
sh -c 'echo $$ >"$1"; while [ ! -e "$2" ]; do sleep 0.01; done; exec "$3" leak '$N' '$SIZE' >/dev/null 2>"$4"' \
	sh "$tmp/w.pid" "$tmp/gate" "$W" "$tmp/w.err" &
check "the workload said its pid" wait_for "$tmp/w.pid" .
wpid=$(cat "$tmp/w.pid")
"$BPFLUA" "$compat/mallocstacks.lua" "$wpid" >"$tmp/ms.out" 2>"$tmp/ms.err" &
tracer=$!
check "mallocstacks attached" wait_for "$tmp/ms.out" "Attaching to malloc in pid $wpid"
touch "$tmp/gate"
# Ctrl-C while the workload lingers, so its stacks can still be named
check "the workload allocated" wait_for "$tmp/w.err" "ns per allocator call"
kill -INT $tracer
wait $tracer
check "mallocstacks ends on Ctrl-C with its report" grep -q "bytes allocated at:" "$tmp/ms.out"
check "two stacks of N * SIZE = $((N * SIZE)) bytes: $(head -c 400 "$tmp/ms.out")" \
	test "$(grep -c "^$((N * SIZE)) bytes allocated at:" "$tmp/ms.out")" = 2
check "both from malloc, called from main" \
	test "$(grep -A2 "^$((N * SIZE)) bytes allocated at:" "$tmp/ms.out" | grep -cE "^	(__libc_malloc|malloc)\+0x0$|^	main\+0x[0-9a-f]+$")" = 4
wait

# --- stack_buildid_example: the burner runs on CPU 0 through the 2 s window
taskset -c 0 "$W" burn 60 "$tmp/never" >/dev/null &
burner=$!
"$BPFLUA" "$compat/stack_buildid_example.lua" "$W" >"$tmp/sb.out" 2>"$tmp/sb.err"
rc=$?
kill $burner
wait $burner 2>/dev/null
check "stack_buildid_example ran (rc $rc): $(tail -3 "$tmp/sb.err")" test $rc = 0
# the burner's samples: count lines under its "- workload (PID)" lines
samples=$(awk -v p="workload ($burner)" 'index($0, p) { getline; s += $1 } END { print s + 0 }' "$tmp/sb.out")
named=$(awk -v p="workload ($burner)" '
	/^    bl_burn_cpu$/ { burn = 1 } /^    main$/ { m = 1 }
	index($0, p) { getline; if (burn && m) s += $1 }
	/^$/ { burn = 0; m = 0 } END { print s + 0 }' "$tmp/sb.out")
# at most 49 Hz for 2 s (+1 at each edge); the burner shares CPU 0 with others
check "the burner was sampled, at most 49 Hz x 2 s: $samples" test "$samples" -ge 5 -a "$samples" -le 100
check "most samples name bl_burn_cpu and main by build id: $named of $samples" \
	test $((named * 10)) -ge $((samples * 8))
finish compat
