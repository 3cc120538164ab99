#!/bin/bash
# k:/kr: one-liners count exactly what a workload caused in the kernel, with
# arg0..5 and retval; a kill -9 leaves no kprobe behind. On a kernel without
# kprobes (this project's own CI host) it says so and is skipped (exit 77,
# ctest's SKIP_RETURN_CODE): the matrix's guests run it.
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
if ! "$BPFLUA" doctor 2>/dev/null | grep -c '^\[ ok \] kprobes' >/dev/null; then # -c: no SIGPIPE under pipefail
	echo "SKIP: this kernel has no kprobes ($("$BPFLUA" doctor 2>/dev/null | grep -o "CONFIG_KPROBES=[a-z]*" | head -1)); the 5.10 and 6.1 guests of ./dev.sh test-kernels run this test"
	exit 77
fi
NAME=bl_kp$$
W="$tmp/$NAME"
cp "$BPFLUA_WORKLOAD" "$W"

# entries: a syscall's kernel function, once per call
expect 0 '^@: 3000$' "$BPFLUA" -e "count{'k:__x64_sys_getppid', filter = 'comm_is(\"$NAME\")'}
	os.execute('$W getppid 3000 >/dev/null')" -d 0.1
# returns, by return value: each open of a missing file returns -ENOENT
expect 0 '^@: 7$' "$BPFLUA" -e "count{'kr:__x64_sys_openat', filter = 'comm_is(\"$NAME\") && retval == -2'}
	os.execute('$W openfail 7 >/dev/null')" -d 0.1
# arguments: hrtimer_nanosleep(ktime_t rqtp, mode, clockid) gets the 1 ms
# each of the workload's nanosleep() calls asks for, in nanoseconds
expect 0 '^@: 40$' "$BPFLUA" -e "count{'k:hrtimer_nanosleep', filter = 'comm_is(\"$NAME\") && arg0 == 1000000 && arg2 <= 1'}
	os.execute('$W nanosleep 40 >/dev/null 2>&1')" -d 0.1
# a missing function: its name in the error, non-zero
expect nz 'bl_no_such_kernel_function' "$BPFLUA" -e "count{'k:bl_no_such_kernel_function'}" -d 0.1

# kill -9 while attached: the kernel drops the probe with the process, and
# no kprobe_events entry is left for anyone to clean up
events=$(awk '$3 == "tracefs" { print $2; exit }' /proc/mounts)
events=${events:-/sys/kernel/tracing}/kprobe_events
"$BPFLUA" -e "count{'k:__x64_sys_getppid'}" -d 60 >"$tmp/k9.out" 2>"$tmp/k9.err" &
k9=$!
check "kill -9 target attached" wait_for "$tmp/k9.err" Attached
kill -9 $k9
wait $k9 2>/dev/null
check "no kprobe_events entry of pid $k9 after kill -9" bash -c "! grep -q 'bpflua_$k9' '$events'"
finish kprobes
