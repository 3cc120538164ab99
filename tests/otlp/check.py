"""What the receiver got (receiver.js's log) and the exporter's stats
(driver.lua's last line), against the exact numbers driver.lua fed in.
    python3 check.py SCENARIO LOG STATS_FILE
Prints one line per failed check and exits 1 if any failed."""
import json
import os
import socket
import sys

scenario, log_file, stats_file = sys.argv[1:4]
reqs = [json.loads(line) for line in open(log_file)]
stats = json.loads(open(stats_file).read().strip().splitlines()[-1])
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


def accepted(path):
    return [r for r in reqs if r["path"] == path and r["status"] == 200 and r["ok"]]


def metrics_of(rs):
    return [m for r in rs for m in r["metrics"]]


def spans_of(rs):
    return [s for r in rs for s in r["spans"]]


def check_metrics(ms, copies):
    by = {}
    for m in ms:
        by.setdefault(m["name"], []).append(m)
    eq(sorted(by), sorted(["bpflua_test_requests", "bpflua_test_outstanding_bytes", "bpflua_test_load_ratio",
                           "http_server_request_duration_seconds"]),
       "metric names: _total stripped from counters, the empty family left out")
    eq(sum(len(m["points"]) for m in ms), 6 * copies, "data points")
    c = by["bpflua_test_requests"][0]
    eq((c["kind"], c["monotonic"], c["temporality"], c.get("unit")), ("sum", True, 2, None),
       "a counter is a cumulative monotonic sum")
    eq([(p["attributes"], p["value"]) for p in c["points"]],
       [({"method": "GET", "code": "200"}, 42), ({"method": "POST", "code": "500"}, 7)], "counter points")
    eq((c["points"][0]["start"], c["points"][0]["time"]), ("1700000000000000000", "1700000060000000000"),
       "start and time in nanoseconds, exact")
    g = by["bpflua_test_outstanding_bytes"][0]
    eq((g["kind"], g["unit"], g["points"][0]["value"]), ("gauge", "By", 1048576), "an integer gauge in bytes")
    g = by["bpflua_test_load_ratio"][0]
    eq((g["kind"], g["unit"], g["points"][0]["value"]), ("gauge", "1", 0.25), "a ratio gauge")
    h = by["http_server_request_duration_seconds"][0]
    eq((h["kind"], h["unit"], h["temporality"]), ("histogram", "s", 2), "a cumulative histogram in seconds")
    eq([(p["count"], p["sum"], p["bucketCounts"], p["bounds"]) for p in h["points"]],
       [(15, 12.5, [1, 2, 3, 4, 5], [0.005, 0.01, 0.1, 1]), (1, 3.0, [0, 0, 0, 0, 1], [0.005, 0.01, 0.1, 1])],
       "histogram counts, sums, per-bucket counts and bounds")
    eq(h["points"][1]["attributes"], {"http_request_method": "GET", "http_response_status_code": "404"},
       "histogram labels")


def check_spans(sp, n):
    eq(len(sp), n, "spans")
    eq(len({s["spanId"] for s in sp}), n, "span ids, each once (nothing sent twice)")
    ok(all(len(s["traceId"]) == 32 and len(s["spanId"]) == 16 for s in sp), "ids of 16 and 8 bytes")
    seqs = sorted(s["attributes"]["bpflua.seq"] for s in sp)
    eq(seqs, list(range(1, n + 1)), "every span, by its sequence attribute")
    eq(sum(s["kind"] == 2 for s in sp), n - n // 5, "server spans")
    eq(sum(s["kind"] == 3 for s in sp), n // 5, "client spans")
    eq(sorted(s["attributes"]["bpflua.seq"] for s in sp if s["status"] == 2), [i for i in range(1, n + 1)
       if i % 5 and i % 7 == 0], "error status on the server spans that failed")
    s7 = [s for s in sp if s["attributes"]["bpflua.seq"] == 7][0]
    eq((s7["start"], s7["end"], s7["attributes"]["http.response.status_code"]),
       ("1700000000007000000", "1700000000007250007", 500), "a span's times and attributes")


encoding = os.environ.get("OTLP_ENCODING", "identity")
eq({r.get("encoding") for r in reqs} - {None}, {encoding} if reqs else set(), f"every body sent as {encoding}")

if scenario == "basic":
    # two requests in flight at once: they may arrive in either order
    eq(sorted(r["path"] for r in reqs), ["/v1/logs"] + ["/v1/metrics"] * 2 + ["/v1/traces"] * 3,
       "requests: metrics, spans in 3 batches, logs, the exporter's own metrics")
    mreqs = {r["metrics"][0]["name"]: r for r in reqs if r["path"] == "/v1/metrics"}
    eq(reqs[-1] is mreqs.get("bpflua_otlp_sent"), True, "the exporter's own metrics come last")
    check_metrics(mreqs["bpflua_test_requests"]["metrics"], 1)
    own = {m["name"]: m for m in mreqs["bpflua_otlp_sent"]["metrics"]}
    eq({n: {p["attributes"]["signal"]: p["value"] for p in m["points"]} for n, m in own.items() if m["kind"] == "sum"},
       {f"bpflua_otlp_{w}": {"metrics": 6 if w == "sent" else 0, "traces": 25 if w == "sent" else 0,
                             "logs": 7 if w == "sent" else 0} for w in ("sent", "failed", "dropped", "retried")},
       "the exporter's own counters, by signal")
    eq(own["bpflua_otlp_queue_bytes"]["unit"], "By", "the queue's bytes")
    check_spans(spans_of(accepted("/v1/traces")), 25)
    eq(sorted(len(r["spans"]) for r in reqs if r["path"] == "/v1/traces"), [5, 10, 10], "span batches")
    logs = [lg for r in accepted("/v1/logs") for lg in r["logs"]]
    eq(len(logs), 7, "log records")
    eq([(lg["time"], lg["body"], lg["severity"], lg["attributes"]["network.peer.port"]) for lg in logs],
       [(str(1700000000000000000 + i), "tcp session", 9, 8000 + i) for i in range(1, 8)], "log records' contents")
    res = reqs[0]["resources"][0]
    eq(res.get("service.name"), "otlp-test-svc", "service.name from OTEL_SERVICE_NAME")
    eq((res.get("deployment.environment"), res.get("team")), ("test", "a,b"),
       "OTEL_RESOURCE_ATTRIBUTES, percent-decoded")
    eq(res.get("host.name"), socket.gethostname(), "host.name")
    eq(res.get("bpflua.test"), "basic", "the caller's resource attributes")
    eq(all(r["resources"] == reqs[0]["resources"] for r in reqs), True, "one resource on every signal")
    eq({k: stats[k] for k in ("sent", "failed", "dropped", "retried", "requests")},
       {"sent": 51, "failed": 0, "dropped": 0, "retried": 0, "requests": 6}, "exporter stats")
elif scenario == "retry":
    # answers: 503 with Retry-After: 1, 503 without, 429 without, then 200
    eq([r["status"] for r in reqs], [503, 503, 429, 200, 200], "the receiver's answers")
    eq([r["path"] for r in reqs], ["/v1/metrics"] * 4 + ["/v1/traces"], "the metrics request retried until taken")
    check_metrics(metrics_of(accepted("/v1/metrics")), 1)
    check_spans(spans_of(accepted("/v1/traces")), 25)
    gap = reqs[1]["t"] - reqs[0]["t"]
    ok(gap >= 1.0, f"Retry-After: 1 honoured (next attempt after {gap:.3f} s)")
    gap2 = reqs[2]["t"] - reqs[1]["t"]
    ok(gap2 < 0.9, f"without Retry-After, the backoff of 0.05 s ({gap2:.3f} s)")
    eq({k: stats[k] for k in ("sent", "failed", "dropped", "retried", "requests")},
       {"sent": 31, "failed": 0, "dropped": 0, "retried": 18, "requests": 2}, "exporter stats: nothing lost")
elif scenario == "reject":
    # 400 and 500 are not retried: each request is tried once and counted failed
    eq([(r["path"], r["status"]) for r in reqs], [("/v1/metrics", 400), ("/v1/metrics", 500)],
       "each rejected request tried once")
    eq({k: stats[k] for k in ("sent", "failed", "dropped", "retried")},
       {"sent": 0, "failed": 12, "dropped": 0, "retried": 0}, "exporter stats")
else:
    sys.exit(f"unknown scenario {scenario}")

if not failed:
    print(f"otlp {scenario}: {checks} checks passed")
sys.exit(failed)
