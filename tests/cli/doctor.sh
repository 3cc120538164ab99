#!/bin/bash
# bpflua doctor names what this host has and lacks; with BTF hidden it says
# BTF is absent, and tracing still works.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
fail=0; n=0
has() { n=$((n + 1)); grep -Eq -- "$2" <<<"$1" || { echo "FAIL: doctor output lacks /$2/:"; echo "$1"; fail=1; }; }

out=$("$BPFLUA" doctor 2>&1) || { echo "FAIL: doctor exited non-zero"; echo "$out"; fail=1; }
has "$out" '\[ ok \] tracepoints'
has "$out" '\[ ok \] uprobes'
has "$out" '\[ ok \] perf_events'
if [ -e /sys/kernel/btf/vmlinux ]; then has "$out" '\[ ok \] btf +/sys/kernel/btf/vmlinux present'; fi
if [ ! -e /sys/bus/event_source/devices/kprobe ]; then has "$out" 'kprobes +no kprobes \(CONFIG_KPROBES'; fi
if [ ! -e "/lib/modules/$(uname -r)/build" ]; then has "$out" "headers +kernel headers .* \(a mismatched tree; the running kernel is $(uname -r)\)"; fi

# per network tracer, what it attaches to here: the sock_*_length tracepoints
# where the kernel has them (6.3+), else kprobes on the protocol functions
tp=$(awk '$3 == "tracefs" { print $2; exit }' /proc/mounts)/events/sock/sock_send_length
if [ -e "$tp" ]; then
	has "$out" '^\[ ok \] tcplife +tracepoint sock:inet_sock_set_state, tracepoint sock:sock_send_length, tracepoint sock:sock_recv_length$'
	has "$out" '^\[ ok \] udp +tracepoint sock:sock_send_length, tracepoint sock:sock_recv_length$'
elif grep -q '^\[ ok \] kprobes' <<<"$out"; then
	has "$out" '^\[ ok \] tcplife +tracepoint sock:inet_sock_set_state, kprobe\+kretprobe tcp_sendmsg, kprobe\+kretprobe tcp_recvmsg$'
	has "$out" '^\[ ok \] udp +kprobe\+kretprobe udp_sendmsg, kprobe\+kretprobe udpv6_sendmsg, kprobe\+kretprobe udp_recvmsg'
else
	has "$out" '^\[FAIL\] tcplife +.*sock:sock_send_length does not exist on this kernel; kprobe tcp_sendmsg needs kprobes'
fi
has "$out" '^\[ ok \] tcpconnect +.*, tracepoint tcp:tcp_receive_reset$'

json=$("$BPFLUA" doctor --json 2>/dev/null)
has "$json" '^\{"kernel":"[^"]+","checks":\[\{"name":"privileges","ok":true'

out=$("$here/../no_btf.sh" "$BPFLUA" doctor 2>&1)
has "$out" 'btf +/sys/kernel/btf/vmlinux absent'
out=$("$here/../no_btf.sh" "$BPFLUA" run syscount -d 1 2>&1) || { echo "FAIL: syscount without BTF"; echo "$out"; fail=1; }
has "$out" '^SYSCALL +COUNT'

[ $fail = 0 ] && echo "doctor: $n checks passed"
exit $fail
