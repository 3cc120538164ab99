-- http: HTTP requests as processes send and receive them: HTTP/1.x, and
-- HTTP/2 cleartext (h2c) and gRPC with HPACK-decoded headers. Method,
-- path, status, latency; client and server side both.
local probe = require("bpflua.probe")
local events = require("bpflua.events")
local net = require("bpflua.net")

local hooks = events.tracer_hooks("http", "payloads")
local http = require("bpflua.http")

local COLS = {
  { "pid", "PID", "%-7d" }, { "comm", "COMM", "%-12s" }, { "side", "SIDE", "%-6s" },
  { "protocol", "PROTO", "%-8s" }, { "method", "METHOD", "%-7s" }, { "status", "STATUS", "%6s" },
  { "grpc_status", "GRPC", "%4s" }, { "latency_ms", "MS", "%9.3f" }, { "path", "PATH", "%s" },
}
-- in JSON only: the text line stays short
local JSON_COLS = { { "pid" }, { "comm" }, { "method" }, { "path" }, { "status" }, { "latency_ms" }, { "protocol" },
                    { "side" }, { "grpc_status" }, { "laddr" }, { "lport" }, { "raddr" }, { "rport" } }

local args = net.args({
  { nil, "side", type = "choice", choices = { "both", "client", "server" }, default = "both",
    help = "report the client side, the server side, or both" },
})

return {
  name = "http",
  description = "HTTP/1.x, h2c and gRPC requests from socket reads and writes: method, path, status, latency",
  args = args,

  init = function(opts)
    net.need("HTTP on sockets", { "sock:sock_send_length", "sock:sock_recv_length", "sock:inet_sock_set_state" })
    local b = probe.load("http", events.defines({}, true), { filter_pid = opts.pid, exclude_pid = BPF.getpid() })
    local st = { b = b, conns = {}, n = 0 }
    opts.out:header(COLS)
    st.reader = events.open(b, "events", function(e)
      if e.dir == 2 then
        st.conns[e.sk] = nil
        return
      end
      local c = st.conns[e.sk]
      if not c then
        c = http.conn()
        st.conns[e.sk] = c
      end
      for _, r in ipairs(c:feed(e)) do
        if e.family ~= 0 then
          r.laddr, r.lport = net.addr(e.family, net.bytes(e.laddr)), e.lport
          r.raddr, r.rport = net.addr(e.family, net.bytes(e.raddr)), e.rport
        end
        local wanted = (opts.side == "both" or opts.side == r.side)
        if (opts.port or opts.addr) and e.family == 0 then wanted = false end
        if wanted and net.matches(opts, r.laddr, r.lport, r.raddr, r.rport) then
          st.n = st.n + 1
          r.pid, r.comm = e.pid, e.comm
          r.latency_ms = math.floor(r.latency_ms * 1000 + 0.5) / 1000
          opts.out:record(r, opts.format == "json" and JSON_COLS or COLS)
        end
      end
      opts.out:flush()
    end, { timed = true })
    opts.out:note("Tracing HTTP requests... Ctrl-C to end.")
    return st
  end,

  poll = hooks.poll,
  status = hooks.status,
  finish = hooks.finish,

}
