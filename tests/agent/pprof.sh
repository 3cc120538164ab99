#!/bin/bash
# CPU profiles in pprof format, read by Go's own `go tool pprof`:
#   - fetched by pprof itself from the agent's /debug/pprof/profile?seconds=N
#     while a test program burns 1.5 s of CPU in bl_burn_cpu()
#   - written by `bpflua run profile --format pprof`
# Each must name bl_burn_cpu as the workload's hottest function; bad
# requests get 400/404.
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../cli/lib.sh"
export HOME=$tmp GOCACHE=$tmp/gocache PPROF_TMPDIR=$tmp/pprof

# top_is FILE_OR_URL: among the workload's samples (the profile's comm
# label; the host is busy with others), bl_burn_cpu is the hottest function
# (samples are counted, not timed: this VM's perf clock runs fast under load)
top_is() {
	go tool pprof -top -tagfocus=comm=workload "$1" >"$tmp/top.txt" 2>"$tmp/top.err"
	local line
	line=$(awk '/flat%/ { getline; print; exit }' "$tmp/top.txt")
	n=$((n + 1))
	case "$line" in
	*bl_burn_cpu*) ;;
	*) bad "$1: hottest function is not bl_burn_cpu"; cat "$tmp/top.txt" "$tmp/top.err" ;;
	esac
}

cat >"$tmp/agent.lua" <<'EOF2'
return { sample_rate = 199, enable_syscall_tracing = false, enable_network_tracing = false }
EOF2
"$BPFLUA" agent --config "$tmp/agent.lua" --listen 127.0.0.1:0 2>"$tmp/agent.err" &
agent=$!
wait_for "$tmp/agent.err" "serving http" || { cat "$tmp/agent.err"; bad "the agent never started"; finish agent_pprof; }
aport=$(sed -n 's|.*serving http://127.0.0.1:\([0-9]*\)/metrics.*|\1|p' "$tmp/agent.err")
url="http://127.0.0.1:$aport/debug/pprof/profile"

# the endpoint, fetched by pprof itself; the burn starts once it is asking
(sleep 1; "$BPFLUA_WORKLOAD" burn 1.5 >/dev/null) &
top_is "$url?seconds=6"
wait $!

# while a profile is being taken, /metrics still answers at once
curl -s -o "$tmp/p2" "$url?seconds=3" &
sleep 0.5
expect 0 "^bpflua_cpu_samples_total" curl -sf --max-time 2 "http://127.0.0.1:$aport/metrics"
wait $!
check "a second profile, gzipped" bash -c "gzip -t '$tmp/p2'"
expect 0 "^400$" curl -s -o /dev/null -w "%{http_code}\n" "$url?seconds=0"
expect 0 "^400$" curl -s -o /dev/null -w "%{http_code}\n" "$url?seconds=lots"
expect 0 "^404$" curl -s -o /dev/null -w "%{http_code}\n" "http://127.0.0.1:$aport/nothing"
kill -INT $agent
wait $agent || bad "the agent did not end cleanly"

# the profile tracer's own pprof output
"$BPFLUA" run profile -F 199 -d 6 --format pprof -o "$tmp/run.pb.gz" 2>"$tmp/run.err" &
prof=$!
wait_for "$tmp/run.err" "Sampling" || bad "profile never started"
"$BPFLUA_WORKLOAD" burn 1.5 >/dev/null
wait $prof || { bad "run profile --format pprof failed"; cat "$tmp/run.err"; }
top_is "$tmp/run.pb.gz"
expect 2 "-i works with text and json output" "$BPFLUA" run profile --format pprof -i 1
finish agent_pprof
