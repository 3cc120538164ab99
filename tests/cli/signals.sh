#!/bin/bash
# However bpflua ends, the -c command ends with it and nothing stays behind.
# SIGINT/SIGTERM: the report, exit 0. SIGHUP/SIGPIPE: no report, the -o
# file untouched, exit 128+N. SIGKILL and any other fatal signal: the
# command still goes (parent-death signal), no temporary file stays.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

# $1 signal, $2 wanted exit status, $3 whether the report is written (yes/no)
try() {
	local sig=$1 want=$2 report=$3 child= rc
	rm -rf "$tmp/o" && mkdir "$tmp/o"
	"$BPFLUA" run syscount -o "$tmp/o/report" -- sleep 300 2>"$tmp/err" &
	local pid=$!
	wait_for "$tmp/err" Tracing || { bad "SIG$sig: the tracer never started"; cat "$tmp/err"; return; }
	for _ in $(seq 1 100); do
		child=$(pgrep -P $pid -x sleep) && break
		sleep 0.05
	done
	[ -n "$child" ] || { bad "SIG$sig: no command running"; return; }
	kill -"$sig" $pid
	wait $pid
	rc=$?
	n=$((n + 1))
	[ $rc = "$want" ] || { bad "SIG$sig: exit $rc, wanted $want"; cat "$tmp/err"; }
	n=$((n + 1))
	for _ in $(seq 1 40); do kill -0 "$child" 2>/dev/null || break; sleep 0.05; done
	if kill -0 "$child" 2>/dev/null; then
		bad "SIG$sig: the command ($child) outlived bpflua: $(ps -o pid,ppid,comm -p "$child" | tail -1)"
		kill "$child"
	fi
	n=$((n + 1))
	if [ "$report" = yes ]; then
		grep -q '^SYSCALL' "$tmp/o/report" 2>/dev/null || bad "SIG$sig: no report in the -o file"
		[ "$(ls -A "$tmp/o")" = report ] || bad "SIG$sig: left: $(ls -A "$tmp/o")"
	else
		[ -z "$(ls -A "$tmp/o")" ] || bad "SIG$sig: left in the -o directory: $(ls -A "$tmp/o")"
	fi
}

try INT 0 yes
try TERM 0 yes
try HUP 129 no
try PIPE 141 no
try USR1 138 no
try KILL 137 no

# a closed pipe on stdout: SIGPIPE's message, non-zero, the command gone
"$BPFLUA" run syscount -i 0.2 -- sleep 301 2>"$tmp/err" | head -c1 >/dev/null
rc=${PIPESTATUS[0]}
n=$((n + 1))
[ "$rc" = 141 ] || [ "$rc" = 1 ] || { bad "stdout closed: exit $rc"; cat "$tmp/err"; }
n=$((n + 1))
sleep 0.5
pgrep -x -f "sleep 301" >/dev/null && { bad "stdout closed: the command outlived bpflua"; pkill -x -f "sleep 301"; }

finish "cli signals"
