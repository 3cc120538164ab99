#!/bin/bash
# The agent's configuration: every bad key is named with its file:line and
# nothing starts (the port stays closed); bad options are usage errors.
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../cli/lib.sh"
port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

bad_config() { # pattern, config text: exit 2, the message, and no listener
	printf '%s\n' "$2" >"$tmp/agent.lua"
	expect 2 "$1" "$BPFLUA" agent --config "$tmp/agent.lua" --listen 127.0.0.1:$port
	check "nothing listens after: $1" bash -c "! curl -s --max-time 1 http://127.0.0.1:$port/metrics"
}

bad_config "agent.lua:3: key 'sample_rate' wants an integer from 1 to 100000, not 0" \
	'-- comment
return {
  sample_rate = 0,
}'
bad_config "agent.lua:2: unknown key 'sampel_rate' \(did you mean sample_rate\?\)" \
	'return {
  sampel_rate = 99 }'
bad_config "agent.lua:4: key 'network.port' wants an integer from 1 to 65535, not 'http'" \
	'return {
  enable_network_tracing = true,
  network = {
    port = "http",
  },
}'
bad_config "agent.lua:1: key 'duration' wants a positive number of seconds, not -1" 'return { duration = -1 }'
bad_config "agent.lua:2: enable_memory_tracing needs a target" 'return {
  enable_memory_tracing = true }'
bad_config "agent.lua:1: key 'syscalls.comm' wants a command name of 1 to 15 plain characters" \
	'return { syscalls = { comm = "a-name-longer-than-15" } }'
bad_config "a config returns a table" 'return 42'
bad_config "agent.lua:1: .*unexpected symbol|agent.lua:1: .*expected" 'return { sample_rate = }'
bad_config "no exporter named 'nonesuch'" 'return { exporters = { "nonesuch" } }'

expect 2 "unknown option --lisen" "$BPFLUA" agent --lisen 127.0.0.1:1
expect 2 "--listen nowhere: wants ADDR:PORT" "$BPFLUA" agent --listen nowhere
expect 2 "--listen localhost:9435: wants an IPv4 or IPv6 address" "$BPFLUA" agent --listen localhost:9435
expect 2 "cannot read the config" "$BPFLUA" agent --config "$tmp/none.lua"
expect 0 "usage: bpflua agent" "$BPFLUA" agent --help
# a port in use: refused before any tracer starts
/usr/bin/python3 -c 'import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen()
time.sleep(10)' $port &
sleep 0.5
expect 1 "cannot listen on 127.0.0.1:$port: Address already in use" "$BPFLUA" agent --listen 127.0.0.1:$port
kill %1

# everything off but one declared exporter, capped at 2 series a family:
# /metrics still serves, the profile endpoint says why it cannot, and the
# label sets past the cap are counted; SIGTERM ends the agent cleanly
cat >"$tmp/agent.lua" <<EOF
return { enable_cpu_profiling = false, enable_network_tracing = false, enable_syscall_tracing = false,
  max_series = 2, exporters = { "$here/getppid_exporter.lua" } }
EOF
"$BPFLUA" agent --config "$tmp/agent.lua" --listen 127.0.0.1:$port 2>"$tmp/agent.err" &
agent=$!
wait_for "$tmp/agent.err" "serving http" || bad "the agent never started"
for name in 626c615f6f6e65 626c615f74776f 626c615f746872; do # bla_one, bla_two, bla_thr
	"$BPFLUA_WORKLOAD" named $name 3 0 >/dev/null
done
curl -s "http://127.0.0.1:$port/metrics" >"$tmp/m.txt"
check "2 series of bpflua_test_getppid_total" [ "$(grep -c '^bpflua_test_getppid_total{' "$tmp/m.txt")" = 2 ]
check "label sets past the cap counted" grep -Eq '^bpflua_series_dropped_total[{]family="bpflua_test_getppid_total"[}] [1-9]' "$tmp/m.txt"
check "promtool check metrics" promtool check metrics <"$tmp/m.txt"
expect 0 "^503 " curl -s -o "$tmp/body" -w "%{http_code} " "http://127.0.0.1:$port/debug/pprof/profile?seconds=1"
check "the 503 says why" grep -q "enable_cpu_profiling = false" "$tmp/body"
kill -TERM $agent
wait $agent || bad "SIGTERM: the agent did not end cleanly"
finish agent_config
