"""What the real agent sent an OTLP receiver (receiver.js's log), against the
workload tests/otlp/agent.sh ran: N getppid calls of one process, K HTTP
requests answered 200 and K answered 404, each on its own TCP connection
(net_workload.py's lines: client_port sent received status path), and the
agent's own bpflua_otlp_* counters as /metrics showed them.
    python3 check_agent.py SCENARIO LOG HTTP_TRUTH METRICS_TXT N K SERVICE
SCENARIO: ok (every answer 200, metrics every interval) or retry (the first
answers 503). Prints one line per failed check; exits 1 if any failed."""
import re
import sys

scenario, log_file, truth_file, metrics_file, N, K, service = sys.argv[1:8]
N, K = int(N), int(K)
import json

reqs = [json.loads(line) for line in open(log_file)]
truth = [line.split() for line in open(truth_file) if line.strip()]
failed = 0
checks = 0


def eq(got, want, what):
    global failed, checks
    checks += 1
    if got != want:
        print(f"FAIL: {what}: got {got!r}, want {want!r}")
        failed = 1


def ok(cond, what):
    eq(bool(cond), True, what)


for r in reqs:
    eq(r["ok"], True, f"request {r['n']} {r['path']} matches the OTLP .proto definitions ({r.get('error')})")
    for res in r.get("resources", []):
        eq(res.get("service.name"), service, f"request {r['n']}: service.name")
        ok(res.get("host.name"), f"request {r['n']}: host.name")
accepted = [r for r in reqs if r["status"] == 200 and r["ok"]]
refused = [r for r in reqs if r["status"] != 200 and r["ok"]]
eq(len(truth), 2 * K, "the workload's requests")

# spans: K server + K client per status code, each once
spans = [s for r in accepted if r["path"] == "/v1/traces" for s in r["spans"]]
by = {}
for s in spans:
    a = s["attributes"]
    k = (s["kind"], a.get("http.response.status_code"), s["status"], a.get("url.path"))
    by[k] = by.get(k, 0) + 1
    eq(s["name"], "GET", "span name")
    ok(int(s["end"]) > int(s["start"]) > 0, f"span {s['spanId']}: start < end")
eq(by, {(2, 200, 0, "/hello"): K, (2, 404, 0, "/missing"): K, (3, 200, 0, "/hello"): K, (3, 404, 2, "/missing"): K},
   "spans by kind (2 server, 3 client), status code, span status (2 error), path")
eq(len({(s["traceId"], s["spanId"]) for s in spans}), len(spans), "every span once")

# log records: a TCP session per connection, seen from both ends, bytes exact
logs = [x for r in accepted if r["path"] == "/v1/logs" for x in r["logs"]]
eq(len(logs), 4 * K, "TCP session log records (2K connections, both ends)")
ends = {}
for x in logs:
    a = x["attributes"]
    eq(x["body"], "tcp session", "log body")
    ends[(a.get("network.local.port"), a.get("network.peer.port"))] = (a.get("bpflua.tcp.tx_bytes"), a.get("bpflua.tcp.rx_bytes"))
server_port = None
for cport, sent, received, status, path in truth:
    cport, sent, received = int(cport), int(sent), int(received)
    client = [v for (lp, pp), v in ends.items() if lp == cport]
    server = [v for (lp, pp), v in ends.items() if pp == cport]
    eq(client, [(sent, received)], f"connection from port {cport}: the client's session (tx, rx)")
    eq(server, [(received, sent)], f"connection from port {cport}: the server's session (tx, rx)")

# metrics: cumulative, the exact counts in the last export
mreqs = sorted((r for r in accepted if r["path"] == "/v1/metrics"), key=lambda r: r["n"])
ok(mreqs, "metrics were exported")
if scenario == "ok":
    ok(len(mreqs) >= 3, f"metrics every interval ({len(mreqs)} exports)")


def metric(r, name):
    return next((m for m in r["metrics"] if m["name"] == name), None)


def getppid(r):
    m = metric(r, "bpflua_syscalls")
    if not m:
        return 0
    pts = [p["value"] for p in m["points"] if p["attributes"].get("syscall") == "getppid"]
    return pts[0] if pts else 0


prev, starts = 0, set()
for r in mreqs:
    v = getppid(r)
    ok(v >= prev, f"request {r['n']}: getppid calls only grow (cumulative): {prev} then {v}")
    prev = v
    for m in r["metrics"]:
        for p in m["points"]:
            starts.add(p["start"])
eq(len(starts), 1, "one start time for every point (cumulative since the agent started)")
if mreqs:
    last = mreqs[-1]
    eq(getppid(last), N, "bpflua_syscalls{syscall=getppid} in the last export")
    m = metric(last, "bpflua_syscalls")
    eq(m and (m["kind"], m["temporality"], m["monotonic"]), ("sum", 2, True), "bpflua_syscalls: a cumulative monotonic sum")
    for side in ("server", "client"):
        h = metric(last, f"http_{side}_request_duration_seconds")
        eq(h and (h["kind"], h["temporality"], h["unit"]), ("histogram", 2, "s"), f"http_{side}: a cumulative histogram in s")
        counts = {}
        for p in (h or {"points": []})["points"]:
            counts[p["attributes"].get("http_response_status_code")] = p["count"]
            eq(len(p["bucketCounts"]), len(p["bounds"]) + 1, f"http_{side}: a bucket per bound and +Inf")
            eq(sum(p["bucketCounts"]), p["count"], f"http_{side}: buckets add up to the count")
            ok(p["sum"] > 0, f"http_{side}: sum > 0")
        eq(counts, {"200": K, "404": K}, f"http_{side}_request_duration_seconds counts by status code")
    sessions = metric(last, "bpflua_tcp_sessions")
    ok(sessions and sum(p["value"] for p in sessions["points"]) >= 4 * K, "bpflua_tcp_sessions counts the sessions")
    for name in ("bpflua_otlp_sent", "bpflua_otlp_failed", "bpflua_otlp_dropped", "bpflua_otlp_retried",
                 "bpflua_otlp_queue_bytes"):
        ok(metric(last, name), f"the exporter's own {name} is exported too")

# the exporter's counts on /metrics, once the spans and logs were taken
prom = {}
for line in open(metrics_file):
    m = re.match(r'^(bpflua_otlp_\w+)\{signal="(\w+)"\} (\S+)$', line)
    if m:
        prom[(m.group(1), m.group(2))] = float(m.group(3))
for sig in ("traces", "logs"):
    eq(prom.get(("bpflua_otlp_sent_total", sig)), 4.0 * K, f"/metrics: bpflua_otlp_sent_total{{signal={sig}}}")
    eq(prom.get(("bpflua_otlp_failed_total", sig)), 0.0, f"/metrics: bpflua_otlp_failed_total{{signal={sig}}}")
    eq(prom.get(("bpflua_otlp_dropped_total", sig)), 0.0, f"/metrics: bpflua_otlp_dropped_total{{signal={sig}}}")
    items = sum(len(r["spans"]) + len(r["logs"]) for r in refused if r["path"] == "/v1/" + sig)
    eq(prom.get(("bpflua_otlp_retried_total", sig)), float(items), f"/metrics: bpflua_otlp_retried_total{{signal={sig}}}")
if scenario == "retry":
    ok(refused and all(r["status"] == 503 for r in refused), "the receiver answered 503 first")
    ok(sum(prom.get(("bpflua_otlp_retried_total", s), 0) for s in ("traces", "logs")) > 0, "something was retried")
else:
    eq(refused, [], "every request answered 200")

if failed:
    sys.exit(1)
print(f"{scenario}: {checks} checks passed")
