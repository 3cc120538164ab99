#!/usr/bin/env python3
"""Network workloads with known ground truth for the network tracers.

  net_workload.py http PORT N   serves a directory on 127.0.0.1:PORT with
      Python's http.server and makes N requests for /hello (200) and N for
      /missing (404), each on its own connection, with raw sockets; prints
      one line per request: "client_port sent_bytes received_bytes status path"
  net_workload.py https PORT N CERT KEY   the same over TLS (OpenSSL through
      Python's ssl module, on both sides)
  net_workload.py udp PORT N SIZE  sends N datagrams of SIZE bytes to a
      socket bound on 127.0.0.1:PORT and receives them"""
import http.server, os, socket, ssl, sys, tempfile, threading

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
        resp = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            resp += chunk
        status = resp.split(b" ", 2)[1].decode()
        print(s.getsockname()[1], len(req), len(resp), status, path, flush=True)
        s.close()
    server.shutdown()

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
    elif sys.argv[1] == "https":
        http_mode(int(sys.argv[2]), int(sys.argv[3]), (sys.argv[4], sys.argv[5]))
    else:
        udp_mode(int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]))
