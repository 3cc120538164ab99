#!/bin/bash
# The command line on bad input: a specific message, a non-zero exit, and
# nothing left behind (no uprobe_events entry, no output file).
set -uo pipefail
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0; n=0

expect() { # $1 want-rc-nonzero(1)/zero(0)  $2 pattern  $3... command
	local want=$1 pattern=$2; shift 2
	n=$((n + 1))
	"$@" >"$tmp/out" 2>&1
	local rc=$?
	if { [ "$want" = 1 ] && [ $rc = 0 ]; } || { [ "$want" = 0 ] && [ $rc != 0 ]; } ||
		! grep -Eq -- "$pattern" "$tmp/out"; then
		echo "FAIL ($rc): $* -> wanted /$pattern/:"; cat "$tmp/out"; fail=1
	fi
}

cat >"$tmp/badc.lua" <<'LUA'
local b = BPF{ text = [[
int f(void *ctx) {
	return nope;
}
]] }
LUA
expect 1 "failed to compile.*" "$BPFLUA" "$tmp/badc.lua"
expect 1 "badc.lua:3:[0-9]+: error: use of undeclared identifier 'nope'" "$BPFLUA" "$tmp/badc.lua"

# LLVM gives up on this one with exit(1) from inside the compile: its
# reason still reaches the user, with the script's line
cat >"$tmp/bigstack.lua" <<'LUA'
local b = BPF{ text = [[
TRACEPOINT_PROBE(syscalls, sys_enter_getppid)
{
	char big[1024];
	u64 n = bpf_get_current_pid_tgid();
	for (int i = 0; i < 1024; i++)
		big[i] = n + i;
	bpf_trace_printk("%d\\n", big[n & 1023]);
	return 0;
}
]] }
LUA
expect 1 "failed to compile \\(LLVM stopped\\)" "$BPFLUA" --no-cache "$tmp/bigstack.lua"
expect 1 "bigstack.lua:[0-9]+:[0-9]+: .*BPF stack limit of 512 bytes is exceeded" "$BPFLUA" --no-cache "$tmp/bigstack.lua"

cat >"$tmp/notp.lua" <<'LUA'
local b = BPF{ text = "int f(void *ctx) { return 0; }" }
b:attach_tracepoint{ tp = "sched:sched_no_such_event", fn_name = "f" }
LUA
expect 1 "notp.lua:2: tracepoint sched:sched_no_such_event not found" "$BPFLUA" "$tmp/notp.lua"

cat >"$tmp/notable.lua" <<'LUA'
local b = BPF{ text = "BPF_HASH(counts, u32, u64);" }
b:get_table("cnts")
LUA
expect 1 "no table named 'cnts'.*counts" "$BPFLUA" "$tmp/notable.lua"

cat >"$tmp/luaerr.lua" <<'LUA'
local b = BPF{ text = "TRACEPOINT_PROBE(syscalls, sys_enter_getppid) { return 0; }" }
local function inner() local x = nil; return x.field end
inner()
LUA
expect 1 "luaerr.lua:2: attempt to index a nil value" "$BPFLUA" "$tmp/luaerr.lua"
expect 1 "stack traceback" "$BPFLUA" "$tmp/luaerr.lua"

# a uprobe script that fails after attaching leaves no uprobe_events entry
cat >"$tmp/upfail.lua" <<LUA
local b = BPF{ text = "int f(void *ctx) { return 0; }" }
b:attach_uprobe{ name = "$BPFLUA_WORKLOAD", sym = "bl_traced_function", fn_name = "f" }
io.open("$tmp/upfail.pid", "w"):write(BPF.getpid())
error("after attach")
LUA
expect 1 "after attach" "$BPFLUA" "$tmp/upfail.lua"
n=$((n + 1))
# this run's entries only: tests running beside this one have theirs
upid=$(cat "$tmp/upfail.pid" 2>/dev/null || echo none)
for f in /sys/kernel/tracing/uprobe_events /sys/kernel/debug/tracing/uprobe_events; do
	if [ -r "$f" ] && grep -q "bpflua_${upid}_" "$f"; then echo "FAIL: $f still has: $(cat "$f")"; fail=1; fi
done

expect 1 "no such file|cannot open" "$BPFLUA" "$tmp/missing.lua"
expect 1 "no tracer named 'nosuch'" "$BPFLUA" run nosuch
expect 1 "unknown option --bogus" "$BPFLUA" run syscount --bogus
expect 1 "-d wants a positive number" "$BPFLUA" run syscount -d xyz
expect 0 "^syscount +Syscall counts" "$BPFLUA" list
expect 0 "usage: bpflua run syscount" "$BPFLUA" run syscount --help
expect 0 "^bpflua [0-9]" "$BPFLUA" --version
expect 0 "usage:" "$BPFLUA" --help
expect 1 "-e needs the code" "$BPFLUA" -e
expect 1 "stdin:1: syntax error" sh -c "echo 'this is not lua' | '$BPFLUA'"
expect 1 "stdin:1: boom" sh -c "echo 'error(\"boom\")' | '$BPFLUA'"

# -o writes the file only when the run completes
expect 1 "unknown option" "$BPFLUA" run syscount -o "$tmp/report.txt" --bogus
n=$((n + 1)); [ -e "$tmp/report.txt" ] && { echo "FAIL: report written on error"; fail=1; }
expect 0 "" "$BPFLUA" run syscount -d 0.3 -o "$tmp/report.txt"
n=$((n + 1)); grep -q SYSCALL "$tmp/report.txt" || { echo "FAIL: report missing"; fail=1; }
n=$((n + 1)); ls "$tmp" | grep -c 'report.txt.tmp' >/dev/null && { echo "FAIL: temporary file left"; fail=1; }

# without privileges: the privilege message, before anything is loaded
if command -v setpriv >/dev/null; then
	# still uid 0 (the files stay readable) but with every capability gone
	expect 1 "needs root|CAP_BPF" setpriv --bounding-set=-all --inh-caps=-all "$BPFLUA" run syscount -d 1
fi

# Ctrl-C (and SIGTERM) end a trace with its summary, exit 0, nothing left
for sig in INT TERM; do
	n=$((n + 1))
	"$BPFLUA" run syscount >"$tmp/sig.out" 2>"$tmp/sig.err" &
	pid=$!
	for _ in $(seq 1 600); do grep -q Tracing "$tmp/sig.err" && break; sleep 0.05; done
	kill -$sig $pid
	wait $pid; rc=$?
	if [ $rc != 0 ] || ! grep -q '^SYSCALL' "$tmp/sig.out"; then
		echo "FAIL: SIG$sig gave rc $rc:"; cat "$tmp/sig.out" "$tmp/sig.err"; fail=1
	fi
done

[ $fail = 0 ] && echo "cli errors: $n checks passed"
exit $fail
