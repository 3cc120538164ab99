#!/bin/bash
# OTLP/HTTP JSON export (lua/bpflua/otlp.lua) against a receiver on
# 127.0.0.1 that checks every body against the official OTLP .proto files
# (receiver.js), with exact counts from driver.lua: everything arrives
# once; 503 and 429 are retried and Retry-After honoured; 400 and 500 are
# not; an unreachable or silent collector blocks nothing, and what cannot
# be sent is counted, failed or dropped.
# The receiver's npm packages come from package-lock.json (npm ci), into
# BPFLUA_OTLP_NODE_DIR (the build tree), once per lock file.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../cli/lib.sh"

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

receiver() { # $1 name, then --answer ...: starts it, sets $port
	local name=$1; shift
	rm -f "$tmp/$name.port"
	node "$here/receiver.js" "$modules" "$tmp/$name.log" "$tmp/$name.port" "$@" 2>"$tmp/$name.err" &
	receiver_pid=$!
	for _ in $(seq 1 200); do [ -s "$tmp/$name.port" ] && break; sleep 0.05; done
	port=$(cat "$tmp/$name.port" 2>/dev/null) || { cat "$tmp/$name.err"; bad "$name: the receiver did not start"; }
	touch "$tmp/$name.log"
}

stop() {
	kill "$receiver_pid" 2>/dev/null
	wait "$receiver_pid" 2>/dev/null
}

scenario() { # $1 name: the driver against the running receiver, then check.py (as CHECK_AS, or name)
	local name=$1 as=${CHECK_AS:-$1}; shift
	n=$((n + 1))
	if ! timeout 120 "$@" >"$tmp/$name.stats" 2>"$tmp/$name.driver"; then
		bad "$name: the driver failed"
		cat "$tmp/$name.driver"
	fi
	stop
	n=$((n + 1))
	python3 "$here/check.py" "$as" "$tmp/$name.log" "$tmp/$name.stats" || bad "$name: check.py"
}

# bad settings: a usage error (exit 2) naming what is wrong
expect 0 "errors: ok" "$BPFLUA" "$here/driver.lua" errors
expect 2 "OTEL_RESOURCE_ATTRIBUTES: 'garbage' is not key=value" \
	env OTEL_RESOURCE_ATTRIBUTES='a=b,garbage' "$BPFLUA" "$here/driver.lua" env
expect 2 'OTEL_EXPORTER_OTLP_PROTOCOL is "grpc"; bpflua sends OTLP/HTTP with the JSON encoding only' \
	env OTEL_EXPORTER_OTLP_PROTOCOL=grpc "$BPFLUA" "$here/driver.lua" env
expect 2 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT must be an http:// or https:// URL, not "localhost:4318"' \
	env OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=localhost:4318 "$BPFLUA" "$here/driver.lua" env
expect 2 "OTEL_EXPORTER_OTLP_TIMEOUT must be milliseconds" \
	env OTEL_EXPORTER_OTLP_TIMEOUT=soon "$BPFLUA" "$here/driver.lua" env

# the receiver itself: a body that breaks the OTLP JSON encoding is refused
receiver strict
bad_body() { # $1 path, $2 body: the receiver must answer 400
	local code
	code=$(python3 -c '
import sys, urllib.request, urllib.error
req = urllib.request.Request("http://127.0.0.1:" + sys.argv[1] + sys.argv[2], data=sys.argv[3].encode(),
                             headers={"Content-Type": "application/json"})
try:
    print(urllib.request.urlopen(req, timeout=10).status)
except urllib.error.HTTPError as e:
    print(e.code)' "$port" "$1" "$2")
	check "the receiver refuses $2 (answered $code)" test "$code" = 400
}
res='"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"x"}}]}'
bad_body /v1/metrics '{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"m","sum":{"dataPoints":[{"asInt":5}]}}]}]}]}'
bad_body /v1/metrics '{"resource_metrics":[]}'
bad_body /v1/traces '{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"AAAAAAAAAAAAAAAAAAAAAA==","spanId":"0000000000000001"}]}]}]}'
bad_body /v1/traces '{"resourceSpans":[{"scopeSpans":[{"spans":[{"kind":"SPAN_KIND_SERVER"}]}]}]}'
bad_body /v1/logs "{\"resourceLogs\":[{$res,\"scopeLogs\":[{\"logRecords\":[{\"body\":{\"stringValue\":\"x\",\"intValue\":\"1\"}}]}]}]}"
stop

# everything arrives once, in batches, with the resource from OTEL_*
receiver basic
OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:$port OTEL_SERVICE_NAME=otlp-test-svc \
	OTEL_RESOURCE_ATTRIBUTES='deployment.environment=test,team=a%2Cb' \
	scenario basic "$BPFLUA" "$here/driver.lua" basic

# the same, gzipped (OTEL_EXPORTER_OTLP_COMPRESSION), and smaller on the wire
receiver gzip
OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:$port OTEL_SERVICE_NAME=otlp-test-svc \
	OTEL_RESOURCE_ATTRIBUTES='deployment.environment=test,team=a%2Cb' OTEL_EXPORTER_OTLP_COMPRESSION=gzip \
	OTLP_ENCODING=gzip CHECK_AS=basic scenario gzip "$BPFLUA" "$here/driver.lua" basic
n=$((n + 1))
python3 -c '
import json, sys
plain = {json.loads(l)["path"]: json.loads(l)["wireBytes"] for l in open(sys.argv[1]) if "/v1/logs" in l}
gz = {json.loads(l)["path"]: json.loads(l)["wireBytes"] for l in open(sys.argv[2]) if "/v1/logs" in l}
sys.exit(not gz["/v1/logs"] * 3 < plain["/v1/logs"])' "$tmp/basic.log" "$tmp/gzip.log" ||
	bad "gzip: the logs request is not a third of its plain size"
expect 2 'compression \(OTEL_EXPORTER_OTLP_LOGS_COMPRESSION\) must be gzip or none, not "br"' \
	env OTEL_EXPORTER_OTLP_LOGS_COMPRESSION=br "$BPFLUA" "$here/driver.lua" env

# HTTPS with a private CA (OTEL_EXPORTER_OTLP_CERTIFICATE), and without it
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$tmp/key.pem" -out "$tmp/cert.pem" -days 1 \
	-subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 2>/dev/null || bad "openssl: no certificate"
receiver tls --tls "$tmp/cert.pem" "$tmp/key.pem"
OTEL_EXPORTER_OTLP_ENDPOINT=https://127.0.0.1:$port OTEL_SERVICE_NAME=otlp-test-svc \
	OTEL_RESOURCE_ATTRIBUTES='deployment.environment=test,team=a%2Cb' OTEL_EXPORTER_OTLP_CERTIFICATE=$tmp/cert.pem \
	CHECK_AS=basic scenario tls "$BPFLUA" "$here/driver.lua" basic
receiver untrusted --tls "$tmp/cert.pem" "$tmp/key.pem"
n=$((n + 1))
timeout 60 "$BPFLUA" "$here/driver.lua" untrusted "https://127.0.0.1:$port" >"$tmp/untrusted.stats" 2>&1 || bad "untrusted: the driver failed"
stop
python3 -c '
import json, sys
s = json.loads(open(sys.argv[1]).read().splitlines()[-1])
want = {"sent": 0, "failed": 6, "retried": 0, "dropped": 0}
got = {k: s[k] for k in want}
err = s.get("last_error", "")
ok = got == want and "certificate" in err.lower() and open(sys.argv[2]).read() == ""
if not ok:
    print(f"FAIL: untrusted certificate: {got}, {err}")
sys.exit(not ok)' "$tmp/untrusted.stats" "$tmp/untrusted.log" || bad "untrusted: failed once, not retried, the error names the certificate"
expect 2 "OTEL_EXPORTER_OTLP_CERTIFICATE: cannot read $tmp/nonexistent.pem" \
	env OTEL_EXPORTER_OTLP_CERTIFICATE="$tmp/nonexistent.pem" "$BPFLUA" "$here/driver.lua" env

# 503 (Retry-After: 1), 503, 429, then 200: retried until taken, nothing lost
receiver retry --answer 503:1 --answer 503 --answer 429
scenario retry "$BPFLUA" "$here/driver.lua" retry "http://127.0.0.1:$port"

# 400 and 500: failed at once, not retried
receiver reject --answer 400 --answer 500
scenario reject "$BPFLUA" "$here/driver.lua" reject "http://127.0.0.1:$port"

# nobody listening: a port that was just free
dead_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
n=$((n + 1))
timeout 120 "$BPFLUA" "$here/driver.lua" dead "http://127.0.0.1:$dead_port" >"$tmp/dead.stats" 2>"$tmp/dead.err" ||
	{ bad "dead collector (connection refused)"; cat "$tmp/dead.err"; }
grep '^dead:' "$tmp/dead.err"

# a collector that accepts connections and never answers
python3 -c '
import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(128)
open(sys.argv[1], "w").write(str(s.getsockname()[1]))
time.sleep(300)' "$tmp/silent.port" &
silent=$!
for _ in $(seq 1 100); do [ -s "$tmp/silent.port" ] && break; sleep 0.05; done
n=$((n + 1))
timeout 120 "$BPFLUA" "$here/driver.lua" dead "http://127.0.0.1:$(cat "$tmp/silent.port")" >"$tmp/silent.stats" 2>"$tmp/silent.err" ||
	{ bad "silent collector"; cat "$tmp/silent.err"; }
grep '^dead:' "$tmp/silent.err"
kill $silent

finish otlp
