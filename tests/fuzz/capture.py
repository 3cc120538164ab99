#!/usr/bin/env python3
"""Writes the fuzzer's seed captures (seeds.txt beside this file): real
conversations between real clients and servers on 127.0.0.1, recorded by a
relay between them, one line per chunk as the relay read it:
  # name          a conversation starts
  > HEX           client to server
  < HEX           server to client
The conversations: gRPC (Python's grpcio: HPACK with Huffman coding and the
dynamic table, DATA, trailers), curl with HTTP/2 prior knowledge against the
same server (nghttp2's encoder), and HTTP/1.1 keep-alive with pipelining
against Python's http.server. Run with Debian's python3 (grpcio) to refresh
the seeds; the fuzzer only reads the file."""
import http.server, os, socket, subprocess, sys, tempfile, threading

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tools"))


def relay(listen_port, target_port, log):
    """Accepts one connection on listen_port and relays it to target_port,
    logging each chunk with its direction."""
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", listen_port))
    ls.listen(1)
    lock = threading.Lock()

    def pump(src, dst, mark):
        while True:
            chunk = src.recv(65536)
            if not chunk:
                break
            with lock:
                log.append((mark, chunk))
            dst.sendall(chunk)
        try:
            dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    def run():
        c, _ = ls.accept()
        s = socket.create_connection(("127.0.0.1", target_port))
        a = threading.Thread(target=pump, args=(c, s, ">"))
        b = threading.Thread(target=pump, args=(s, c, "<"))
        a.start(); b.start(); a.join(); b.join()
        c.close(); s.close(); ls.close()

    t = threading.Thread(target=run)
    t.start()
    return t


def grpc_capture(port, log):
    import grpc
    import grpc_pair
    server = grpc_pair.serve(port)
    t = relay(port + 1, port, log)
    with grpc.insecure_channel("127.0.0.1:%d" % (port + 1)) as ch:
        grpc.channel_ready_future(ch).result(timeout=10)
        hello = ch.unary_unary("/bpflua.Test/Hello")
        missing = ch.unary_unary("/bpflua.Test/Missing")
        for _ in range(2):
            assert hello(b"x" * 40) == b"hello " + b"x" * 40
            try:
                missing(b"y")
            except grpc.RpcError:
                pass
    t.join(10)
    server.stop(0)


def curl_capture(port, log):
    import grpc_pair
    server = grpc_pair.serve(port)
    t = relay(port + 1, port, log)
    subprocess.run(["curl", "-s", "-o", "/dev/null", "--http2-prior-knowledge",
                    "-H", "x-custom: " + "v" * 30, "http://127.0.0.1:%d/bpflua.Test/Hello" % (port + 1)])
    t.join(10)
    server.stop(0)


def http1_capture(port, log):
    root = tempfile.mkdtemp()
    with open(os.path.join(root, "hello"), "w") as f:
        f.write("hello from bpflua's test\n")

    class Handler(http.server.SimpleHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        wbufsize = -1

        def log_message(self, *a):
            pass
    server = http.server.HTTPServer(("127.0.0.1", port), lambda *a, **kw: Handler(*a, directory=root, **kw))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    t = relay(port + 1, port, log)
    s = socket.create_connection(("127.0.0.1", port + 1))
    req = "GET /hello HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: seed\r\n\r\n"
    s.sendall((req * 2 + "HEAD /hello HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
               + "GET /missing HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").encode())
    while s.recv(65536):
        pass
    s.close()
    t.join(10)
    server.shutdown()


if __name__ == "__main__":
    port = 30000 + os.getpid() % 20000
    out = []
    for name, fn in (("grpc", grpc_capture), ("curl h2c", curl_capture), ("http/1.1 pipelined", http1_capture)):
        log = []
        fn(port, log)
        port += 2
        out.append("# " + name)
        out.extend("%s %s" % (mark, chunk.hex()) for mark, chunk in log)
    with open(os.path.join(HERE, "seeds.txt"), "w") as f:
        f.write("\n".join(out) + "\n")
