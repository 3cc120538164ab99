#!/usr/bin/env python3
"""Network workloads with known ground truth for the network tracers.

  net_workload.py http PORT N   serves a directory on 127.0.0.1:PORT with
      Python's http.server and makes N requests for /hello (200) and N for
      /missing (404), each on its own connection, with raw sockets; prints
      one line per request: "client_port sent_bytes received_bytes status path"
  net_workload.py https PORT N CERT KEY   the same over TLS (OpenSSL through
      Python's ssl module, on both sides)
  net_workload.py udp PORT N SIZE  sends N datagrams of SIZE bytes to a
      socket bound on 127.0.0.1:PORT and receives them
  net_workload.py pipeline PORT   one connection to an HTTP/1.1 keep-alive
      server on 127.0.0.1:PORT, three GETs (/hello, /world, /missing) in one
      send; prints the statuses read back
  net_workload.py hostile PORT   a listener on 127.0.0.1:PORT; one client
      sends it the HTTP/2 preface and an empty HEADERS frame with PADDED set
      (33 bytes), then another client makes one valid HTTP/1.1 request,
      GET /after-hostile, which the listener answers 200
  net_workload.py slow PORT   one GET /slow to a listener on 127.0.0.1:PORT
      that answers with a chunked body: its head and a first chunk at once,
      five more chunks 10 ms apart, then the last chunk; prints the client's
      own "first_ms total_ms": from before its send to its first and to its
      last byte"""
import http.server, os, re, socket, ssl, sys, tempfile, threading


def read_all(s):
    """Everything the peer sends until it closes; the socket is closed."""
    resp = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        resp += chunk
    s.close()
    return resp

def http_mode(port, n, tls=None):
    root = tempfile.mkdtemp()
    with open(os.path.join(root, "hello"), "w") as f:
        f.write("hello from bpflua's test\n")
    handler = lambda *a, **kw: http.server.SimpleHTTPRequestHandler(*a, directory=root, **kw)
    http.server.SimpleHTTPRequestHandler.log_message = lambda *a: None
    server = http.server.HTTPServer(("127.0.0.1", port), handler)
    client_ctx = None
    if tls:
        server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        server_ctx.load_cert_chain(*tls)
        server.socket = server_ctx.wrap_socket(server.socket, server_side=True)
        client_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        client_ctx.check_hostname = False
        client_ctx.verify_mode = ssl.CERT_NONE
    threading.Thread(target=server.serve_forever, daemon=True).start()
    for path in ["/hello"] * n + ["/missing"] * n:
        s = socket.create_connection(("127.0.0.1", port))
        if client_ctx:
            s = client_ctx.wrap_socket(s)
        req = ("GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n" % path).encode()
        s.sendall(req)
        lport = s.getsockname()[1]
        resp = read_all(s)
        status = resp.split(b" ", 2)[1].decode()
        print(lport, len(req), len(resp), status, path, flush=True)
    server.shutdown()

def pipeline_mode(port):
    root = tempfile.mkdtemp()
    for name in ("hello", "world"):
        with open(os.path.join(root, name), "w") as f:
            f.write("%s from bpflua's test\n" % name)
    class Handler(http.server.SimpleHTTPRequestHandler):
        protocol_version = "HTTP/1.1" # keep-alive: requests are read one after another
        wbufsize = -1 # each response leaves in one send, flushed after each request
        def log_message(self, *a):
            pass
    server = http.server.HTTPServer(("127.0.0.1", port), lambda *a, **kw: Handler(*a, directory=root, **kw))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    s = socket.create_connection(("127.0.0.1", port))
    req = lambda path, last: ("GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n%s\r\n"
                              % (path, "Connection: close\r\n" if last else "")).encode()
    # the 404 comes last: http.server closes the connection after an error
    s.sendall(req("/hello", False) + req("/world", False) + req("/missing", True))
    resp = read_all(s)
    server.shutdown()
    print(" ".join(m.decode() for m in re.findall(rb"HTTP/1\.1 (\d{3})", resp)))

def hostile_mode(port):
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", port))
    listener.listen(4)
    def serve():
        for _ in range(2):
            conn, _ = listener.accept()
            data = b""
            while not data.endswith(b"\r\n\r\n"):
                chunk = conn.recv(65536)
                if not chunk:
                    break
                data += chunk
            if data.startswith(b"GET "):
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            conn.close()
    t = threading.Thread(target=serve)
    t.start()
    preface = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
    headers_padded = bytes([0, 0, 0, 1, 0x8, 0, 0, 0, 1]) # length 0, HEADERS, PADDED, stream 1
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(preface + headers_padded)
    s.close()
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"GET /after-hostile HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    resp = read_all(s)
    t.join()
    listener.close()
    print(resp.split(b" ", 2)[1].decode())

def slow_mode(port):
    import time
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", port))
    listener.listen(1)
    def serve():
        conn, _ = listener.accept()
        data = b""
        while not data.endswith(b"\r\n\r\n"):
            chunk = conn.recv(65536)
            if not chunk:
                break
            data += chunk
        conn.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nfirst\r\n")
        for _ in range(5):
            time.sleep(0.01)
            conn.sendall(b"4\r\nmore\r\n")
        conn.sendall(b"0\r\n\r\n")
        conn.recv(1) # until the client closes
        conn.close()
    t = threading.Thread(target=serve)
    t.start()
    s = socket.create_connection(("127.0.0.1", port))
    t0 = time.monotonic()
    s.sendall(b"GET /slow HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    resp = s.recv(65536)
    first = time.monotonic()
    while not resp.endswith(b"0\r\n\r\n"):
        resp += s.recv(65536)
    last = time.monotonic()
    s.close()
    t.join()
    listener.close()
    print("%.3f %.3f" % ((first - t0) * 1000, (last - t0) * 1000))

def udp_mode(port, n, size):
    r = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    r.bind(("127.0.0.1", port))
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for _ in range(n):
        s.sendto(b"u" * size, ("127.0.0.1", port))
        data, _ = r.recvfrom(65536)
        assert len(data) == size
    print(s.getsockname()[1], flush=True)

if __name__ == "__main__":
    if sys.argv[1] == "http":
        http_mode(int(sys.argv[2]), int(sys.argv[3]))
    elif sys.argv[1] == "pipeline":
        pipeline_mode(int(sys.argv[2]))
    elif sys.argv[1] == "slow":
        slow_mode(int(sys.argv[2]))
    elif sys.argv[1] == "hostile":
        hostile_mode(int(sys.argv[2]))
    elif sys.argv[1] == "https":
        http_mode(int(sys.argv[2]), int(sys.argv[3]), (sys.argv[4], sys.argv[5]))
    else:
        udp_mode(int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]))
