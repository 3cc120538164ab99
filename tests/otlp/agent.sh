#!/bin/bash
# Issue 14's OTLP done-when with the real agent: `bpflua agent --otlp URL`
# (and OTEL_EXPORTER_OTLP_ENDPOINT) against receiver.js on 127.0.0.1, which
# checks every body against the official OTLP .proto files. The workload:
# N getppid calls of a uniquely named process, K HTTP requests answered 200
# and K answered 404, each on its own TCP connection. check_agent.py wants
# them exactly: N in the syscall metrics, 2K server and 2K client spans by
# status code, 4K TCP session log records with their bytes, the exporter's
# own counts on /metrics.
#   - a receiver answering 200: metrics every interval, cumulative
#   - a receiver answering 503 then 200: nothing lost, nothing twice
#   - a dead receiver (a refused port; one that accepts and never answers):
#     tracing and /metrics keep working with the exact counts, and what
#     could not be sent is counted as failed in bpflua_otlp_*; the agent
#     still ends promptly
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../cli/lib.sh"
PY=/usr/bin/python3
tools=$here/../tools
N=2345
K=3

node_dir=${BPFLUA_OTLP_NODE_DIR:-$tmp/node}
mkdir -p "$node_dir"
if ! cmp -s "$here/package-lock.json" "$node_dir/package-lock.json" || [ ! -d "$node_dir/node_modules" ]; then
	cp "$here/package.json" "$here/package-lock.json" "$here/.npmrc" "$node_dir/"
	(cd "$node_dir" && npm ci --ignore-scripts --no-audit --no-fund >npm.log 2>&1) || {
		cat "$node_dir/npm.log"
		echo "FAIL: npm ci in $node_dir"
		exit 1
	}
fi
modules=$node_dir/node_modules
# libcurl would take 127.0.0.1 through a proxy named in the environment
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY
unset OTEL_EXPORTER_OTLP_ENDPOINT OTEL_SERVICE_NAME OTEL_RESOURCE_ATTRIBUTES

free_port() { $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wl=$tmp/blotlp_wl
cp "$BPFLUA_WORKLOAD" "$wl"

receiver() { # $1 name, then --answer ...: starts it, sets $port
	local name=$1; shift
	node "$here/receiver.js" "$modules" "$tmp/$name.log" "$tmp/$name.port" "$@" 2>"$tmp/$name.err" &
	receiver_pid=$!
	for _ in $(seq 1 200); do [ -s "$tmp/$name.port" ] && break; sleep 0.05; done
	port=$(cat "$tmp/$name.port" 2>/dev/null) || { cat "$tmp/$name.err"; bad "$name: the receiver did not start"; }
	touch "$tmp/$name.log"
}

# start_agent NAME INTERVAL ARGS...: the agent on a port of its own, tracing
# the workload's process and HTTP port; sets $agent, $aport, $hport
start_agent() {
	local name=$1 interval=$2; shift 2
	hport=$(free_port)
	cat >"$tmp/$name.lua" <<EOF
return { interval = $interval, enable_memory_tracing = false,
  syscalls = { comm = "blotlp_wl" }, network = { port = $hport, tls = false, udp = false } }
EOF
	"$BPFLUA" agent --config "$tmp/$name.lua" --listen 127.0.0.1:0 "$@" 2>"$tmp/$name.agent" &
	agent=$!
	wait_for "$tmp/$name.agent" "serving http" || { cat "$tmp/$name.agent"; bad "$name: the agent never started"; }
	aport=$(sed -n 's|.*serving http://127.0.0.1:\([0-9]*\)/metrics.*|\1|p' "$tmp/$name.agent")
}

workload() { # $1 name
	"$wl" getppid $N >/dev/null || bad "$1: the getppid workload"
	$PY "$tools/net_workload.py" http "$hport" $K >"$tmp/$1.truth" || bad "$1: the HTTP workload"
}

scrape() { # $1 file: /metrics, answered within 2 s
	curl -s --max-time 2 -o "$1" "http://127.0.0.1:$aport/metrics"
}

# metric_is FILE LINE_PREFIX VALUE: polls /metrics up to 40 s for the line
metric_is() {
	local got
	for _ in $(seq 1 160); do
		scrape "$1" || { bad "/metrics did not answer within 2 s"; return 1; }
		got=$(grep -F "$2 " "$1" | awk '{ print $2 }')
		[ "$got" = "$3" ] && return 0
		sleep 0.25
	done
	bad "/metrics: $2 is ${got:-missing}, wanted $3"
	return 1
}

stop_agent() { # SIGINT: the last export and a flush bounded in time
	local t0=$SECONDS
	kill -INT "$agent"
	wait "$agent" || bad "the agent did not end cleanly: $(tail -3 "$tmp/$1.agent")"
	check "$1: the agent ended within 10 s of SIGINT ($((SECONDS - t0)) s)" [ $((SECONDS - t0)) -le 10 ]
}

# --- a receiver answering 200, metrics every 2 s; --otlp
receiver ok
start_agent ok 2 --otlp "http://127.0.0.1:$port"
workload ok
n=$((n + 1)); metric_is "$tmp/ok.prom" 'bpflua_otlp_sent_total{signal="traces"}' $((4 * K))
n=$((n + 1)); metric_is "$tmp/ok.prom" 'bpflua_otlp_sent_total{signal="logs"}' $((4 * K))
sleep 4 # two more metrics exports
stop_agent ok
kill "$receiver_pid"; wait "$receiver_pid" 2>/dev/null
n=$((n + 1))
$PY "$here/check_agent.py" ok "$tmp/ok.log" "$tmp/ok.truth" "$tmp/ok.prom" $N $K bpflua || bad "ok: check_agent.py"

# --- 503 for the first two requests, then 200; OTEL_EXPORTER_OTLP_ENDPOINT
receiver retry --answer 503 --answer 503
OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:$port OTEL_SERVICE_NAME=otlp-agent-test start_agent retry 60
workload retry
n=$((n + 1)); metric_is "$tmp/retry.prom" 'bpflua_otlp_sent_total{signal="traces"}' $((4 * K))
n=$((n + 1)); metric_is "$tmp/retry.prom" 'bpflua_otlp_sent_total{signal="logs"}' $((4 * K))
stop_agent retry
kill "$receiver_pid"; wait "$receiver_pid" 2>/dev/null
n=$((n + 1))
$PY "$here/check_agent.py" retry "$tmp/retry.log" "$tmp/retry.truth" "$tmp/retry.prom" $N $K otlp-agent-test ||
	bad "retry: check_agent.py"

# --- dead receivers: tracing and /metrics carry on, the exporter counts
# what it gave up on (5 attempts each, 1 + 2 + 4 + 8 s apart)
dead() { # $1 name, $2 port
	OTEL_EXPORTER_OTLP_TIMEOUT=500 start_agent "$1" 2 --otlp "http://127.0.0.1:$2"
	workload "$1"
	local p=$tmp/$1.prom
	n=$((n + 1)); metric_is "$p" 'bpflua_syscalls_total{syscall="getppid"}' $N
	for side in server client; do
		for code in 200 404; do
			n=$((n + 1))
			metric_is "$p" "http_${side}_request_duration_seconds_count{http_request_method=\"GET\",http_response_status_code=\"$code\"}" $K
		done
	done
	n=$((n + 1)); metric_is "$p" 'bpflua_tcp_sessions_total{comm="python3"}' $((4 * K))
	n=$((n + 1)); metric_is "$p" 'bpflua_otlp_failed_total{signal="traces"}' $((4 * K))
	n=$((n + 1)); metric_is "$p" 'bpflua_otlp_failed_total{signal="logs"}' $((4 * K))
	n=$((n + 1)); metric_is "$p" 'bpflua_otlp_retried_total{signal="traces"}' $((4 * 4 * K))
	n=$((n + 1)); metric_is "$p" 'bpflua_otlp_sent_total{signal="metrics"}' 0
	check "$1: metric points given up on or dropped are counted" \
		awk '/^bpflua_otlp_(failed|dropped|retried)_total\{signal="metrics"\}/ { s += $2 } END { exit !(s > 0) }' "$p"
	# the profile endpoint still answers while the exporter waits
	check "$1: /debug/pprof/profile?seconds=1 answers" \
		curl -s --max-time 5 -o "$tmp/$1.pprof" "http://127.0.0.1:$aport/debug/pprof/profile?seconds=1"
	stop_agent "$1"
}
dead refused "$(free_port)"

$PY -c '
import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(128)
open(sys.argv[1], "w").write(str(s.getsockname()[1]))
time.sleep(300)' "$tmp/silent.port" &
silent=$!
for _ in $(seq 1 100); do [ -s "$tmp/silent.port" ] && break; sleep 0.05; done
dead silent "$(cat "$tmp/silent.port")"
kill $silent

finish otlp_agent
