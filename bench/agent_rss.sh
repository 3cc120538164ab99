#!/bin/bash
# The agent's memory under load: bpflua agent with all four tracers on (CPU
# profile, network with HTTP, syscalls, memory of the HTTP server) while a
# local HTTP server answers a steady load; prints the agent's VmRSS and
# VmHWM (kB) once the load ends, the requests answered, the GET requests the
# agent counted on the server side, its CPU samples and its lost events:
#   rss_kb=N hwm_kb=N sent=N answered=N errors=N counted=N samples=N lost=N profile_bytes=N
# Bounded: RATE requests a second for SECONDS, on 127.0.0.1 only.
#   bench/agent_rss.sh BPFLUA [RATE [SECONDS]]
# tests/agent/rss.sh runs it with a non-sanitized bpflua and checks the numbers.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
BPFLUA=${1:?usage: agent_rss.sh BPFLUA [RATE [SECONDS]]}
rate=${2:-200}
secs=${3:-20}
PY=/usr/bin/python3
. "$root/bench/lib.sh"
export BPFLUA_CACHE_DIR=${BPFLUA_CACHE_DIR:-$tmp/cache}
free_port() { $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
port=$(free_port)
aport=$(free_port)

$PY "$root/bench/agent_load.py" serve "$port" >"$tmp/server.pid" &
pids="$pids $!"
for _ in $(seq 1 100); do [ -s "$tmp/server.pid" ] && break; sleep 0.05; done
server=$(head -1 "$tmp/server.pid")

cat >"$tmp/agent.lua" <<EOF
return {
  enable_cpu_profiling = true, enable_network_tracing = true,
  enable_syscall_tracing = true, enable_memory_tracing = true,
  memory = { pid = $server },
  -- only the load's requests counted (exact on a shared host); every
  -- socket's events still go through the rings: the port is picked in
  -- user space (bpflua/net.lua)
  network = { port = $port },
}
EOF
"$BPFLUA" agent --config "$tmp/agent.lua" --listen "127.0.0.1:$aport" 2>"$tmp/agent.err" &
agent=$!
pids="$pids $agent"
for _ in $(seq 1 1200); do grep -q "serving http" "$tmp/agent.err" && break; sleep 0.1; done
grep -q "serving http" "$tmp/agent.err" || { cat "$tmp/agent.err" >&2; exit 1; }
# a scrape every 2 s while the load runs: /metrics is part of the cost. The
# agent traces its own HTTP too; HEAD keeps these out of the GET counts.
( end=$((SECONDS + secs)); while [ $SECONDS -lt $end ]; do
	curl -s -I -o /dev/null "http://127.0.0.1:$aport/metrics" || true; sleep 2; done ) &
pids="$pids $!"
# AGENT_RSS_PPROF=1: a 2 s CPU profile pulled in the middle of the load
# (stacks resolved: kallsyms and the sampled processes' symbol tables)
if [ -n "${AGENT_RSS_PPROF:-}" ]; then
	( sleep $((secs / 2)); curl -s --max-time 30 -o "$tmp/profile.pb" \
		"http://127.0.0.1:$aport/debug/pprof/profile?seconds=2" ) &
	puller=$!
fi
read -r sent answered errors _ _ < <($PY "$root/bench/agent_load.py" steady "$port" "$rate" "$secs")
sleep 1 # the last requests' events drained
profile_bytes=0
if [ -n "${AGENT_RSS_PPROF:-}" ]; then
	wait "$puller" || true
	profile_bytes=$(stat -c %s "$tmp/profile.pb" 2>/dev/null || echo 0)
fi
curl -s "http://127.0.0.1:$aport/metrics" >"$tmp/metrics.txt"
[ -n "${AGENT_RSS_SMAPS:-}" ] && cp "/proc/$agent/smaps" "$AGENT_RSS_SMAPS"
rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$agent/status")
hwm=$(awk '/^VmHWM:/ { print $2 }' "/proc/$agent/status")
counted=$(awk '/^http_server_request_duration_seconds_count\{http_request_method="GET"/ { s += $2 } END { print s + 0 }' "$tmp/metrics.txt")
samples=$(awk '/^bpflua_cpu_samples_total/ { s += $2 } END { print s + 0 }' "$tmp/metrics.txt")
lost=$(awk '/^bpflua_events_lost_total/ { s += $2 } END { print s + 0 }' "$tmp/metrics.txt")
kill -INT "$agent"
wait "$agent" || true
echo "rss_kb=$rss hwm_kb=$hwm sent=$sent answered=$answered errors=$errors counted=$counted samples=$samples lost=$lost profile_bytes=$profile_bytes"
