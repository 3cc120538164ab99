#!/bin/bash
# Values that would do nothing, or something else than asked, are refused
# with a message naming the limit; a -p trace ends when its process does;
# messages name what is wrong; exit statuses follow one convention
# (1 failed, 2 usage error).
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

# pids: 0 and past the kernel's limit would trace every process
expect 2 "-p must be from 1 to 4194304, not 0" "$BPFLUA" run syscount -p 0
expect 2 "-p must be from 1 to 4194304, not 1099511627776" "$BPFLUA" run syscount -p 1099511627776
expect 2 "-p must be from 1 to 4194304, not 999999999" "$BPFLUA" run syscount -p 999999999
true & gone=$!
wait $gone
expect 2 "-p $gone: no such process" "$BPFLUA" run syscount -p $gone
expect 2 "-p $gone: no such process" "$BPFLUA" run memleak -p $gone
expect 2 "-a wants an IPv4 or IPv6 address, not 'garbage'" "$BPFLUA" run tcplife -a garbage
expect 2 "-P must be from 1 to 65535, not 70000" "$BPFLUA" run http -P 70000
expect 2 "-P must be from 1 to 65535, not 0" "$BPFLUA" run udp -P 0

# a -p trace ends, with its report, when the process exits (as strace's)
"$BPFLUA_WORKLOAD" getppid 3000 "$tmp/gate" >"$tmp/pid" &
wl=$!
while [ ! -s "$tmp/pid" ]; do sleep 0.01; done
start=$(date +%s)
"$BPFLUA" run syscount -p "$(head -1 "$tmp/pid")" -d 60 >"$tmp/out" 2>"$tmp/err" &
tracer=$!
wait_for "$tmp/err" Tracing || bad "the -p tracer never started"
touch "$tmp/gate"
wait $wl
wait $tracer
rc=$?
n=$((n + 1))
[ $rc = 0 ] && [ $(($(date +%s) - start)) -lt 30 ] || bad "-p: the trace did not end with its process (rc $rc)"
check "-p: the report has the process's 3000 getppid calls" grep -Eq '^getppid +3000$' "$tmp/out"
check "-p: says the process exited" grep -q "process $(head -1 "$tmp/pid") exited" "$tmp/err"

# the Lua API: refused, not truncated or ignored
lua_err() { # $1 pattern, $2 Lua code
	expect 1 "$1" "$BPFLUA" -e "$2"
}
for v in -1 "0/0" "1/0" "-1/0" 2e9; do
	lua_err "bad argument #1 to 'sleep' \(seconds must be a number from 0 to 1e9\)" "BPF.sleep($v)"
done
perf='local b = BPF{ text = "BPF_PERF_OUTPUT(ev); int f(void *ctx) { return 0; }" }
b:get_table("ev"):open_perf_buffer(function() end, { page_cnt = PAGES })'
for p in "1 << 20" "(1 << 32) + 8" 0 3 -64; do
	lua_err "page_cnt must be a power of two from 1 to 65536" "${perf/PAGES/$p}"
done
lua_err "BPF\{\}: cflags must be a list of strings, not number" 'BPF{ text = "int x;", cflags = 42 }'
lua_err "BPF\{\}: cflags\[2\] must be a string, not table" 'BPF{ text = "int x;", cflags = { "-DA", {} } }'
lua_err "BPF\{\}: text must be a string of C, not table" 'BPF{ text = {} }'
lua_err "count\{\}: by must be a key name or a list of key names, not number" \
	'count{ "t:syscalls:sys_enter_getppid", by = 42 }'
lua_err "trace\{\}: fields must be a list of field names, not string" \
	'trace{ "t:syscalls:sys_enter_getppid", fields = "pid" }'

# JSON is JSON: no NaN or Infinity, a cycle is an error (and leaks nothing:
# this runs under LeakSanitizer in the test build)
expect 0 '^\{"a":null,"b":null,"c":null,"d":52.11\}$' "$BPFLUA" -e 'print(BPF.json({ a = 0/0, b = 1/0, c = -1/0, d = 52.11 }))'
expect 0 "false.*nested more than 32 deep" "$BPFLUA" -e 'local t = {}; t.t = t; print(pcall(BPF.json, t))'

# one convention for exit statuses: 2 for usage errors, 1 for failures
expect 2 "unexpected argument 'x'" "$BPFLUA" -e 'print(1)' -d 1 x
expect 2 "-d wants a positive number" "$BPFLUA" -e 'print(1)' -d -1
expect 2 "unknown option --bogus" "$BPFLUA" run syscount --bogus
expect 2 "no tracer named 'nosuch'" "$BPFLUA" run nosuch
expect 2 "usage: bpflua cache list\|clear" "$BPFLUA" cache bogus
expect 1 "-e:1: boom" "$BPFLUA" -e 'error("boom")'

# one-liners count the system, not bpflua reading it
expect 0 "@g\[bl_self\]: 1234" "$BPFLUA" -e "
	print('self', BPF.getpid())
	count{ 't:raw_syscalls:sys_enter', by = 'pid' }
	count{ 't:syscalls:sys_enter_getppid', by = 'comm', name = 'g' }
	os.execute('$BPFLUA_WORKLOAD named 626c5f73656c66 1234 0 >/dev/null')" -d 0.2
self=$(awk '$1 == "self" { print $2 }' "$tmp/expect.out")
n=$((n + 1))
[ -n "$self" ] && ! grep -q "^@\[$self\]" "$tmp/expect.out" ||
	bad "a one-liner counted bpflua's own syscalls: $(grep "^@\[$self\]" "$tmp/expect.out")"

finish "cli limits"
