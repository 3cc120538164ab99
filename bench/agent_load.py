#!/usr/bin/env python3
"""The agent benchmark's HTTP workload, on 127.0.0.1 only, bounded in time.

  agent_load.py serve PORT          a threaded HTTP/1.1 server answering every
                                    GET with a 64-byte body; prints its pid
  agent_load.py steady PORT RATE SECONDS   RATE requests a second (open loop,
                                    4 keep-alive connections) for SECONDS;
                                    prints "sent done errors p50_ms p99_ms"
  agent_load.py flood PORT SECONDS  as many requests as 4 keep-alive
                                    connections complete in SECONDS; prints
                                    "requests_per_second\""""
import http.client, http.server, os, sys, threading, time

BODY = b"x" * 64

class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # headers and body leave in two writes: without TCP_NODELAY the body
    # waits for the client's delayed ACK, 40 ms a request
    disable_nagle_algorithm = True
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", str(len(BODY)))
        self.end_headers()
        self.wfile.write(BODY)
    def log_message(self, *a):
        pass

def serve(port):
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
    print(os.getpid(), flush=True)
    srv.serve_forever()

def worker(port, until, pace, out):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    nxt = time.monotonic()
    while True:
        now = time.monotonic()
        if now >= until:
            break
        if pace:
            if now < nxt:
                time.sleep(nxt - now)
            nxt += pace
        t0 = time.monotonic()
        try:
            c.request("GET", "/")
            r = c.getresponse()
            r.read()
            out["lat"].append(time.monotonic() - t0)
        except Exception:
            out["errors"] += 1
            c.close()
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        out["sent"] += 1

def run(port, secs, rate):
    conns = 4
    until = time.monotonic() + secs
    outs = [{"lat": [], "errors": 0, "sent": 0} for _ in range(conns)]
    pace = conns / rate if rate else 0
    ts = [threading.Thread(target=worker, args=(port, until, pace, o)) for o in outs]
    start = time.monotonic()
    for t in ts: t.start()
    for t in ts: t.join()
    elapsed = time.monotonic() - start
    lat = sorted(l for o in outs for l in o["lat"])
    return sum(o["sent"] for o in outs), len(lat), sum(o["errors"] for o in outs), lat, elapsed

if __name__ == "__main__":
    mode, port = sys.argv[1], int(sys.argv[2])
    if mode == "serve":
        serve(port)
    elif mode == "steady":
        sent, done, errors, lat, _ = run(port, float(sys.argv[4]), float(sys.argv[3]))
        p = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))] * 1000 if lat else 0
        print("%d %d %d %.2f %.2f" % (sent, done, errors, p(0.5), p(0.99)))
    elif mode == "flood":
        _, done, _, _, elapsed = run(port, float(sys.argv[3]), 0)
        print("%.0f" % (done / elapsed))
