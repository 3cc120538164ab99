#!/usr/bin/env python3
"""A gRPC server and client in one process pair, with generic handlers (no
generated code): `grpc_pair.py PORT N` serves /bpflua.Test/Hello (OK) and
/bpflua.Test/Missing (NOT_FOUND) on 127.0.0.1:PORT, and a client process
calls each N times. Waits for the file named by GATE (env) first, if set."""
import os, subprocess, sys, time
import grpc
from concurrent import futures

def serve(port):
    def hello(request, context):
        return b"hello " + request
    def missing(request, context):
        context.abort(grpc.StatusCode.NOT_FOUND, "no such thing")
    handler = grpc.method_handlers_generic_handler("bpflua.Test", {
        "Hello": grpc.unary_unary_rpc_method_handler(hello),
        "Missing": grpc.unary_unary_rpc_method_handler(missing),
    })
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    server.add_generic_rpc_handlers((handler,))
    server.add_insecure_port("127.0.0.1:%d" % port)
    server.start()
    return server

def client(port, n):
    with grpc.insecure_channel("127.0.0.1:%d" % port) as ch:
        grpc.channel_ready_future(ch).result(timeout=10)
        hello = ch.unary_unary("/bpflua.Test/Hello")
        missing = ch.unary_unary("/bpflua.Test/Missing")
        for _ in range(n):
            assert hello(b"x") == b"hello x"
            try:
                missing(b"y")
                raise SystemExit("Missing succeeded")
            except grpc.RpcError as e:
                assert e.code() == grpc.StatusCode.NOT_FOUND, e.code()

if __name__ == "__main__":
    port, n = int(sys.argv[1]), int(sys.argv[2])
    if len(sys.argv) > 3 and sys.argv[3] == "client":
        client(port, n)
        sys.exit(0)
    gate = os.environ.get("GATE")
    while gate and not os.path.exists(gate):
        time.sleep(0.02)
    server = serve(port)
    subprocess.run([sys.executable, __file__, str(port), str(n), "client"], check=True)
    server.stop(0)
