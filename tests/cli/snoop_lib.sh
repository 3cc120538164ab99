# Shared by the tests of the streaming tracers (execsnoop, opensnoop, ...):
# start a tracer in the background and wait until it says it is tracing;
# stop it with SIGINT (a clean end: it drains what is queued) and check
# that it exited 0. Source it after setting $tmp.

# start_tracer TAG [PREFIX...] -- bpflua run ARGS...: output in $tmp/TAG.out
# and $tmp/TAG.err, pid in tracer_pid[TAG]
declare -A tracer_pid
start_tracer() {
	local tag=$1; shift
	"$@" >"$tmp/$tag.out" 2>"$tmp/$tag.err" &
	tracer_pid[$tag]=$!
	for _ in $(seq 1 600); do grep -q Tracing "$tmp/$tag.err" 2>/dev/null && return 0; sleep 0.05; done
	cat "$tmp/$tag.err"
	echo "FAIL: tracer $tag never started"
	exit 1
}

stop_tracer() { # TAG
	local tag=$1
	sleep 0.3 # the reader drains every 10 ms; events of the last exits reach it
	kill -INT "${tracer_pid[$tag]}"
	wait "${tracer_pid[$tag]}" || { cat "$tmp/$tag.err"; echo "FAIL: tracer $tag failed"; exit 1; }
}
