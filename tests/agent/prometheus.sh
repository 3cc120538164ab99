#!/bin/bash
# bpflua agent scraped every second by a real Prometheus (Debian's) on
# 127.0.0.1, with workloads of the test's own; the exact counts they caused
# are read back through Prometheus's HTTP query API:
#   - a uniquely named process's getppid calls (the syscall tracer, and an
#     exporter declared from a BPF map: tests/agent/getppid_exporter.lua),
#     and its 17 failed openat calls by errno
#   - N HTTP requests answered 200 and N answered 404, server and client
#     side, their TCP sessions, and UDP datagrams and bytes sent
#   - 4 + 4 gRPC calls by service, method and grpc-status, on both sides
#   - the bytes a process malloc'd and kept (tests/agent/leaker.c)
#   - the same counters after SIGHUP reloads the config: nothing is lost
# and promtool check metrics passes on /metrics.
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../cli/lib.sh"
PY=/usr/bin/python3
tools="$here/../tools"

free_port() {
	$PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# a command name no other process has: the syscall tracer counts only it
wl=$tmp/blagent_wl
cp "$BPFLUA_WORKLOAD" "$wl"
hport=$(free_port)
# the memory tracer's target, which must exist before the agent starts
leak=$tmp/blagent_leak
cp "$BPFLUA_LEAKER" "$leak"
"$leak" 123 4567 "$tmp/leak.gate" >"$tmp/leak.out" &
wait_for "$tmp/leak.out" "^[0-9]" || bad "the leaker never started"
write_config() { # $1: sample_rate (changed on reload)
	cat >"$tmp/agent.lua" <<EOF
-- the agent's test config
return {
  sample_rate = $1,
  interval = 2,
  syscalls = { comm = "blagent_wl" },
  network = { port = $hport, tls = false },
  exporters = { "$here/getppid_exporter.lua", "runq_latency", "bio_latency" },
  enable_memory_tracing = true,
  memory = { comm = "blagent_leak" },
}
EOF
}
write_config 99
"$BPFLUA" agent --config "$tmp/agent.lua" --listen 127.0.0.1:0 2>"$tmp/agent.err" &
agent=$!
wait_for "$tmp/agent.err" "serving http" || { cat "$tmp/agent.err"; bad "the agent never started"; finish agent_prometheus; }
aport=$(sed -n 's|.*serving http://127.0.0.1:\([0-9]*\)/metrics.*|\1|p' "$tmp/agent.err")

pport=$(free_port)
cat >"$tmp/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: bpflua
    static_configs:
      - targets: ["127.0.0.1:$aport"]
EOF
check "promtool check config" promtool check config "$tmp/prometheus.yml" >/dev/null
prometheus --config.file="$tmp/prometheus.yml" --storage.tsdb.path="$tmp/tsdb" \
	--web.listen-address="127.0.0.1:$pport" >"$tmp/prometheus.log" 2>&1 &

# query EXPR: the single value Prometheus has for EXPR now, or "none"
query() {
	$PY - "$pport" "$1" <<'PY'
import json, sys, urllib.parse, urllib.request
port, expr = sys.argv[1], sys.argv[2]
url = "http://127.0.0.1:%s/api/v1/query?%s" % (port, urllib.parse.urlencode({"query": expr}))
try:
    r = json.load(urllib.request.urlopen(url, timeout=5))
except Exception:
    print("none"); sys.exit(0)
res = r.get("data", {}).get("result", [])
print(res[0]["value"][1] if len(res) == 1 else "none" if not res else "several")
PY
}

# expect_value EXPR WANT: polls (scrapes come every second) up to 20 s for
# WANT, then says what Prometheus had
expect_value() {
	local got
	n=$((n + 1))
	for _ in $(seq 1 80); do
		got=$(query "$1")
		[ "$got" = "$2" ] && return 0
		sleep 0.25
	done
	bad "$1: Prometheus has $got, wanted $2"
}

expect_value 'up{job="bpflua"}' 1

# the workloads
N=4321
"$wl" getppid $N >/dev/null
"$wl" openfail 17 >/dev/null
# a process named ESC ] 0 ; p w n BEL, newline, 0xff 0xfe, X (tests/cli/names.sh):
# its 5 getppid calls under an escaped, valid UTF-8 label; scrapes still parse
"$BPFLUA_WORKLOAD" named 1b5d303b70776e070afffe58 5 0.1 >/dev/null
$PY "$tools/net_workload.py" http $hport 6 >"$tmp/http.truth" || bad "HTTP workload"
$PY "$tools/net_workload.py" udp $hport 321 123 >"$tmp/udp.truth" || bad "UDP workload"
touch "$tmp/leak.gate"
wait_for "$tmp/leak.out" leaked || bad "the leaker did not leak"

expect_value 'bpflua_syscalls_total{syscall="getppid"}' $N
expect_value 'bpflua_test_getppid_total{comm="blagent_wl"}' $N
expect_value 'bpflua_test_getppid_total{comm="\\x1b]0;pwn\\x07\\n\\xff\\xfeX"}' 5
expect_value 'bpflua_syscall_duration_seconds_count{syscall="getppid"}' $N
expect_value 'bpflua_syscall_duration_seconds_bucket{syscall="getppid",le="+Inf"}' $N
# the workload's failed openat calls (its loader opens nothing that is missing)
expect_value 'bpflua_syscall_errors_total{syscall="openat",errno="ENOENT"}' 17
expect_value 'bpflua_test_errors_total{comm="blagent_wl",syscall="openat",errno="ENOENT"}' 17
for side in server client; do
	for code in 200 404; do
		expect_value "http_${side}_request_duration_seconds_count{http_request_method=\"GET\",http_response_status_code=\"$code\"}" 6
	done
done
expect_value 'sum(http_server_request_duration_seconds_bucket{le="+Inf"})' 12
# 2 x 6 connections, each seen closing at both ends
expect_value 'sum(bpflua_tcp_sessions_total)' 24
# gRPC: 4 calls answered OK and 4 NOT_FOUND (5), on each side
$PY "$tools/grpc_pair.py" $hport 4 || bad "gRPC workload"
for side in server client; do
	expect_value "rpc_${side}_duration_seconds_count{rpc_service=\"bpflua.Test\",rpc_method=\"Hello\",rpc_grpc_status_code=\"0\"}" 4
	expect_value "rpc_${side}_duration_seconds_count{rpc_service=\"bpflua.Test\",rpc_method=\"Missing\",rpc_grpc_status_code=\"5\"}" 4
done
# 321 datagrams of 123 bytes sent to the port (those received come from
# the sender's port, which the port filter leaves out)
expect_value 'bpflua_udp_datagrams_total{comm="python3",direction="sent"}' 321
expect_value 'bpflua_udp_bytes_total{comm="python3",direction="sent"}' $((321 * 123))
expect_value 'bpflua_events_lost_total{tracer="http"}' 0
# 123 blocks of 4567 bytes, malloc'd and kept
expect_value 'bpflua_memory_outstanding_bytes{comm="blagent_leak"}' $((123 * 4567))
expect_value 'bpflua_memory_allocations_total{comm="blagent_leak"}' 123
# 64 direct, synced 4 KiB writes to a file on a disk (not tmpfs): at least
# 64 write requests (the file system adds its own)
disk_dir=/var/tmp
dd if=/dev/zero of="$disk_dir/blagent.$$" bs=4k count=64 oflag=direct conv=fsync status=none || bad "dd"
rm -f "$disk_dir/blagent.$$"
expect_value 'sum(bpflua_bio_latency_seconds_count{operation="write"}) >= bool 64' 1
expect_value 'sum(bpflua_bio_latency_seconds_bucket{operation="write",le="+Inf"}) == bool sum(bpflua_bio_latency_seconds_count{operation="write"})' 1
check "a run-queue latency histogram" [ "$(query 'bpflua_runq_latency_seconds_count > 0')" != none ]

# what Prometheus's own linter says of the agent's output
curl -sf "http://127.0.0.1:$aport/metrics" >"$tmp/metrics.txt" || bad "GET /metrics"
check "promtool check metrics" promtool check metrics <"$tmp/metrics.txt"
check "process_resident_memory_bytes" grep -q '^process_resident_memory_bytes [1-9]' "$tmp/metrics.txt"
# histograms: cumulative buckets never go down, +Inf equals _count
check "cumulative buckets" $PY - "$tmp/metrics.txt" <<'PY'
import re, sys
prev = {}
for line in open(sys.argv[1]):
    m = re.match(r'(\w+)_bucket\{(.*)le="([^"]+)"\} (\S+)$', line)
    if m:
        key = (m.group(1), m.group(2))
        v = float(m.group(4))
        assert v >= prev.get(key, 0), line
        prev[key] = v
PY

# SIGHUP: a new sample rate, the same counters, counting on
write_config 49
kill -HUP $agent
wait_for "$tmp/agent.err" "reloaded" || bad "no reload on SIGHUP"
"$wl" getppid 1000 >/dev/null
expect_value 'bpflua_syscalls_total{syscall="getppid"}' $((N + 1000))
expect_value 'bpflua_test_getppid_total{comm="blagent_wl"}' $((N + 1000))
expect_value 'resets(bpflua_syscalls_total{syscall="getppid"}[5m])' 0
# a broken config on SIGHUP: the old one stays, the counts too
echo 'return { sample_rate = "fast" }' >"$tmp/agent.lua"
kill -HUP $agent
wait_for "$tmp/agent.err" "not reloaded" || bad "a bad config on SIGHUP was not refused"
check "the refusal names the key and file:line" grep -q "agent.lua:1: key 'sample_rate'" "$tmp/agent.err"
"$wl" getppid 10 >/dev/null
expect_value 'bpflua_syscalls_total{syscall="getppid"}' $((N + 1010))

rm -f "$tmp/leak.gate"
kill -INT $agent
wait $agent || { bad "the agent did not end cleanly on SIGINT"; tail -20 "$tmp/agent.err"; }
finish agent_prometheus
