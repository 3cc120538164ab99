#!/bin/bash
# The network tracers against workloads with known ground truth: an HTTP
# server and raw-socket client (every byte counted by the client itself),
# the same over TLS, a gRPC server and client, and a UDP sender and receiver.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
tools="$here/../tools"
tmp=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$tmp"' EXIT
PY=/usr/bin/python3 # Debian's, where python3-grpcio lives
port=$((20000 + $$ % 20000))
fail() { echo "FAIL: $1"; for f in "$tmp"/*.err; do cat "$f"; done; exit 1; }

start() { # name, tracer args...: a tracer in the background, JSON to $tmp/name.json
	local name=$1; shift
	"$BPFLUA" run "$@" --format json -o "$tmp/$name.json" 2>"$tmp/$name.err" &
	eval "pid_$name=$!"
	for _ in $(seq 1 600); do grep -q Tracing "$tmp/$name.err" && return; sleep 0.05; done
	fail "$name never started"
}
http_case() { # name, port: run http -P port around net_workload.py's NAME mode
	start "$1" http -P "$2"
	$PY "$tools/net_workload.py" "$1" "$2" >"$tmp/$1.truth" || fail "$1 workload"
	finish "$1"
}
finish() { # name: Ctrl-C, then the tracer writes its report
	local p
	eval "p=\$pid_$1"
	sleep 0.3 # the last events drain on the tracer's timer
	kill -INT "$p"
	wait "$p" || fail "$1 failed"
}

# --- HTTP/1.1 and TCP sessions ---------------------------------------------
start http http -P $port
start tcplife tcplife -P $port
start tcpconnect tcpconnect --mode both -P $port
$PY "$tools/net_workload.py" http $port 5 >"$tmp/truth" || fail "http workload"
for t in http tcplife tcpconnect; do finish $t; done
$PY - "$tmp" $port <<'PY' || fail "HTTP/TCP records"
import json, sys, collections
tmp, port = sys.argv[1], int(sys.argv[2])
load = lambda n: [json.loads(l) for l in open("%s/%s.json" % (tmp, n))]
truth = [l.split() for l in open(tmp + "/truth")]
assert len(truth) == 10, truth

http = [r for r in load("http") if r["protocol"] == "HTTP/1.1" and r["path"] in ("/hello", "/missing")]
for side in ("client", "server"):
    got = collections.Counter((r["method"], r["path"], r["status"]) for r in http if r["side"] == side)
    assert got == {("GET", "/hello", 200): 5, ("GET", "/missing", 404): 5}, (side, got)
assert all(r["latency_ms"] >= 0 and r["comm"] == "python3" for r in http), http
assert all(port in (r["lport"], r["rport"]) and r["raddr"] == "127.0.0.1" for r in http), http
assert len(load("http")) == 20, "-P keeps only this port's requests"
print("http: 10 requests on each side with method, path and status")

life = load("tcplife")
for cport, sent, received, status, path in truth:
    cport, sent, received = int(cport), int(sent), int(received)
    client = [r for r in life if r["lport"] == cport and r["rport"] == port]
    server = [r for r in life if r["lport"] == port and r["rport"] == cport]
    assert len(client) == 1 and len(server) == 1, (cport, client, server)
    c, s = client[0], server[0]
    assert (c["tx_bytes"], c["rx_bytes"]) == (sent, received), (c, sent, received)
    assert (s["rx_bytes"], s["tx_bytes"]) == (sent, received), (s, sent, received)
    assert c["laddr"] == c["raddr"] == "127.0.0.1" and c["duration_ms"] >= 0
print("tcplife: 10 sessions, both ends, bytes exactly as the client counted them")

conn = load("tcpconnect")
connects = [r for r in conn if r["dir"] == "connect" and r["rport"] == port]
accepts = [r for r in conn if r["dir"] == "accept" and r["lport"] == port]
assert sorted(r["lport"] for r in connects) == sorted(int(t[0]) for t in truth), connects
assert sorted(r["rport"] for r in accepts) == sorted(int(t[0]) for t in truth), accepts
assert all(r["latency_ms"] > 0 and r["result"] == "ok" for r in connects), connects
print("tcpconnect: 10 connects with latency and 10 accepts")
PY

# --- refused connects: the errno, not just "failed" ---------------------------
start refused tcpconnect -P $((port + 6))
$PY - $((port + 6)) <<'PY' || fail "refused workload"
import socket, sys
for _ in range(3):
    s = socket.socket()
    try:
        s.connect(("127.0.0.1", int(sys.argv[1])))
        sys.exit("port %s is open" % sys.argv[1])
    except ConnectionRefusedError:
        pass
    s.close()
PY
finish refused
$PY - "$tmp" $((port + 6)) <<'PY' || fail "refused records"
import json, sys
tmp, port = sys.argv[1], int(sys.argv[2])
rows = [json.loads(l) for l in open(tmp + "/refused.json")]
rows = [r for r in rows if "summary" not in r]
assert len(rows) == 3 and all(r["result"] == "ECONNREFUSED" and r["rport"] == port and r["dir"] == "connect"
                              and r["comm"] == "python3" for r in rows), rows
print("tcpconnect: 3 refused connects, each with ECONNREFUSED")
PY

# --- HTTP/1.1 pipelining: three requests in one send -------------------------
http_case pipeline $((port + 4))
$PY - "$tmp" <<'PY' || fail "pipelined records"
import json, sys, collections
tmp = sys.argv[1]
assert open(tmp + "/pipeline.truth").read().split() == ["200", "200", "404"]
rows = [json.loads(l) for l in open(tmp + "/pipeline.json")]
for side in ("client", "server"):
    got = collections.Counter((r["method"], r["path"], r["status"]) for r in rows if r["side"] == side)
    assert got == {("GET", "/hello", 200): 1, ("GET", "/world", 200): 1, ("GET", "/missing", 404): 1}, (side, got)
assert len(rows) == 6, rows
print("pipelining: 3 requests in one send, 3 records on each side")
PY

# --- a chunked reply over 50 ms: latency to its first byte, total to its last,
# against the client's own clock (which starts before its send and stops
# after its last read, so it bounds the tracer's figures from above)
http_case slow $((port + 6))
$PY - "$tmp" <<'PY' || fail "time to the last byte"
import json, sys
tmp = sys.argv[1]
first, total = map(float, open(tmp + "/slow.truth").read().split())
rows = [json.loads(l) for l in open(tmp + "/slow.json")]
assert len(rows) == 2, rows
for r in rows:
    assert r["path"] == "/slow" and r["status"] == 200, r
    assert r["total_ms"] >= 50 and r["latency_ms"] < 50, r
client = [r for r in rows if r["side"] == "client"][0]
assert client["latency_ms"] <= first and client["total_ms"] <= total, (client, first, total)
print("a chunked reply: %.1f ms to the last byte (the client: %.1f), %.1f to the first (%.1f)"
      % (client["total_ms"], total, client["latency_ms"], first))
PY

# --- a hostile payload: the HTTP/2 preface and a HEADERS frame, PADDED and empty
http_case hostile $((port + 5))
$PY - "$tmp" <<'PY' || fail "records after a hostile payload"
import json, sys
tmp = sys.argv[1]
assert open(tmp + "/hostile.truth").read().split() == ["200"]
rows = [json.loads(l) for l in open(tmp + "/hostile.json")]
records = sorted((r["side"], r["method"], r["path"], r["status"]) for r in rows if "summary" not in r)
assert records == [("client", "GET", "/after-hostile", 200), ("server", "GET", "/after-hostile", 200)], rows
summary = [r for r in rows if "summary" in r]
# the 33 bytes once as the client sent them, once as the listener read them
assert summary == [{"summary": "http", "lost_events": 0, "malformed": 2, "evicted_requests": 0, "evicted_streams": 0,
                    "evicted_connections": 0}], summary
assert "2 malformed frames or messages skipped" in open(tmp + "/hostile.err").read()
print("hostile: 33 bytes counted as malformed twice, the tracer goes on and reports the next request")
PY

# --- HTTPS through OpenSSL ------------------------------------------------------
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$tmp/key.pem" -out "$tmp/cert.pem" -days 1 \
	-subj /CN=127.0.0.1 2>/dev/null || fail "openssl req"
start https http -P $((port + 3))
$PY "$tools/net_workload.py" https $((port + 3)) 3 "$tmp/cert.pem" "$tmp/key.pem" >/dev/null || fail "https workload"
finish https
$PY - "$tmp" <<'PY' || fail "HTTPS records"
import json, sys, collections
rows = [json.loads(l) for l in open(sys.argv[1] + "/https.json")]
for side in ("client", "server"):
    got = collections.Counter((r["method"], r["path"], r["status"], r.get("tls")) for r in rows if r["side"] == side)
    assert got == {("GET", "/hello", 200, True): 3, ("GET", "/missing", 404, True): 3}, (side, got)
print("https: 6 requests on each side, read as cleartext through OpenSSL")
PY

# --- gRPC over h2c ------------------------------------------------------------
start grpc http -P $((port + 1))
$PY "$tools/grpc_pair.py" $((port + 1)) 4 || fail "grpc workload"
finish grpc
$PY - "$tmp" <<'PY' || fail "gRPC records"
import json, sys, collections
rows = [json.loads(l) for l in open(sys.argv[1] + "/grpc.json")]
rows = [r for r in rows if r["protocol"] == "grpc"]
for side in ("client", "server"):
    got = collections.Counter((r["method"], r["path"], r.get("grpc_status")) for r in rows if r["side"] == side)
    assert got == {("POST", "/bpflua.Test/Hello", 0): 4, ("POST", "/bpflua.Test/Missing", 5): 4}, (side, got)
print("grpc: 8 calls on each side with path and grpc-status")
PY

# --- UDP ----------------------------------------------------------------------
start udp udp -T 0
$PY "$tools/net_workload.py" udp $((port + 2)) 321 123 >"$tmp/udptruth" || fail "udp workload"
finish udp
$PY - "$tmp" $((port + 2)) <<'PY' || fail "UDP records"
import json, sys
tmp, port = sys.argv[1], int(sys.argv[2])
rows = [json.loads(l) for l in open(tmp + "/udp.json")]
sender = int(open(tmp + "/udptruth").read())
send = [r for r in rows if r["direction"] == "send" and r["rport"] == port]
recv = [r for r in rows if r["direction"] == "recv" and r["rport"] == sender]
assert len(send) == 1 and send[0]["datagrams"] == 321 and send[0]["bytes"] == 321 * 123, send
assert len(recv) == 1 and recv[0]["datagrams"] == 321 and recv[0]["bytes"] == 321 * 123, recv
assert send[0]["raddr"] == "127.0.0.1"
print("udp: 321 datagrams of 123 bytes each way, with the remote endpoint")
PY
echo "network: 8 groups of checks passed"
