#!/bin/bash
# The agent's cost: bpflua agent with all four tracers on (CPU profile,
# network with HTTP, syscalls, memory of the HTTP server) while a local HTTP
# server answers a steady load, against the same load without the agent.
# Prints a markdown table: the agent's CPU time as a share of one core, its
# peak RSS, and the workload's latency and maximum throughput either way.
# Run as root, on a quiet host: bench/agent.sh
#   AGENT_RATE=500 AGENT_SECONDS=60   the steady load and how long it lasts
#   AGENT_SCRAPE=15                   seconds between /metrics scrapes
#   AGENT_FLOOD=10                    seconds of each maximum-throughput run
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
[ "$(id -u)" = 0 ] || { echo "bench/agent.sh: run as root" >&2; exit 1; }
./dev.sh build >/dev/null
BPFLUA=$root/build/bpflua
PY=/usr/bin/python3
rate=${AGENT_RATE:-500}
secs=${AGENT_SECONDS:-60}
scrape=${AGENT_SCRAPE:-15}
flood=${AGENT_FLOOD:-10}
. "$root/bench/lib.sh"
export BPFLUA_CACHE_DIR=$tmp/cache
port=$($PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
aport=$($PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

# the HTTP server, pinned to the last CPU; the load generator to the first
last=$(($(nproc) - 1))
taskset -c "$last" $PY bench/agent_load.py serve "$port" >"$tmp/server.pid" &
pids="$pids $!"
for _ in $(seq 1 100); do [ -s "$tmp/server.pid" ] && break; sleep 0.05; done
server=$(head -1 "$tmp/server.pid")
load() { taskset -c 0 $PY bench/agent_load.py "$@"; }

ticks() { # utime + stime of PID, in clock ticks
	awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"
}

# --- without the agent ------------------------------------------------
read -r b_sent b_done b_err b_p50 b_p99 < <(load steady "$port" "$rate" "$secs")
b_flood=$(load flood "$port" "$flood")

# --- with the agent: all four tracers ----------------------------------
cat >"$tmp/agent.lua" <<EOF2
return {
  enable_cpu_profiling = true, enable_network_tracing = true,
  enable_syscall_tracing = true, enable_memory_tracing = true,
  memory = { pid = $server },
}
EOF2
"$BPFLUA" agent --config "$tmp/agent.lua" --listen "127.0.0.1:$aport" 2>"$tmp/agent.err" &
agent=$!
pids="$pids $agent"
for _ in $(seq 1 600); do grep -q "serving http" "$tmp/agent.err" && break; sleep 0.1; done
grep -q "serving http" "$tmp/agent.err" || { cat "$tmp/agent.err"; exit 1; }
sleep 2 # past start-up: compiling and loading are not the steady cost
t0=$(ticks $agent)
( end=$((SECONDS + secs)); while [ $SECONDS -lt $end ]; do
	curl -s -o /dev/null "http://127.0.0.1:$aport/metrics"; sleep "$scrape"; done ) &
scraper=$!
pids="$pids $scraper"
read -r a_sent a_done a_err a_p50 a_p99 < <(load steady "$port" "$rate" "$secs")
t1=$(ticks $agent)
kill "$scraper" 2>/dev/null || true
a_flood=$(load flood "$port" "$flood")
hwm=$(awk '/^VmHWM:/ { print $2 }' "/proc/$agent/status")
rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$agent/status")
curl -s "http://127.0.0.1:$aport/metrics" >"$tmp/metrics.txt"
served=$(awk '/^http_server_request_duration_seconds_count/ { s += $2 } END { print s + 0 }' "$tmp/metrics.txt")
kill -INT $agent; wait $agent || true

cpu_pct=$(awk -v t="$((t1 - t0))" -v s="$secs" 'BEGIN { printf "%.2f", t / 100 / s * 100 }')
echo "## bpflua agent, all four tracers, $(nproc) CPUs, kernel $(uname -r), $(date -u +%F)"
echo
echo "| | without agent | with agent |"
echo "|---|---|---|"
echo "| steady load: requests sent / answered / errors | $b_sent / $b_done / $b_err | $a_sent / $a_done / $a_err |"
echo "| latency p50 / p99 (ms) | $b_p50 / $b_p99 | $a_p50 / $a_p99 |"
echo "| maximum throughput (req/s, $flood s) | $b_flood | $a_flood |"
echo "| agent CPU, share of one core ($rate req/s for $secs s, /metrics every $scrape s) | | $cpu_pct % |"
echo "| agent RSS now / peak (MB) | | $((rss / 1024)) / $((hwm / 1024)) |"
echo "| requests the agent counted (steady + flood) | | $served |"
