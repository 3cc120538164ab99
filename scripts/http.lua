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
  { "grpc_status", "GRPC", "%4s" }, { "latency_ms", "MS", "%9.3f" }, { "total_ms", "TOTAL_MS", "%9.3f" },
  { "path", "PATH", "%s" },
}
-- in JSON only: the text line stays short
local JSON_COLS = { { "pid" }, { "comm" }, { "method" }, { "path" }, { "status" }, { "latency_ms" }, { "total_ms" },
                    { "protocol" },
                    { "side" }, { "grpc_status" }, { "tls" }, { "laddr" }, { "lport" }, { "raddr" }, { "rport" } }

local args = net.args({
  { nil, "side", type = "choice", choices = { "both", "client", "server" }, default = "both",
    help = "report the client side, the server side, or both" },
  { nil, "no-tls", type = "flag", help = "do not read HTTPS cleartext through OpenSSL uprobes" },
})

-- OpenSSL's entry points: function, entry handler (the exit is ssl_exit)
local SSL_PROBES = {
  { "SSL_write", "ssl_write_enter" }, { "SSL_write_ex", "ssl_write_ex_enter" },
  { "SSL_read", "ssl_read_enter" }, { "SSL_read_ex", "ssl_read_ex_enter" },
}
local C = probe.constants("http.h")

-- uprobes on libssl for HTTPS; false and a reason when there is no libssl
local function attach_tls(b, pid)
  local ok, err = pcall(function()
    for _, p in ipairs(SSL_PROBES) do
      b:attach_uprobe{ name = "ssl", sym = p[1], fn_name = p[2], pid = pid }
      b:attach_uretprobe{ name = "ssl", sym = p[1], fn_name = "ssl_exit", pid = pid }
    end
    -- entry only: past any instruction the kernel would single-step
    b:attach_uprobe{ name = "ssl", sym = "SSL_free", fn_name = "ssl_free_enter", pid = pid, emulate = true }
  end)
  return ok, err
end

return {
  name = "http",
  description = "HTTP/1.x, h2c and gRPC requests from socket reads and writes: method, path, status, latency",
  containers = true, -- records name a process: --container applies
  args = args,

  init = function(opts)
    local stats = http.stats()
    local conns = http.conns(stats)
    local st = net.stream("HTTP on sockets", "http", { TLS = not opts.no_tls },
                          probe.who(opts), opts, COLS, function(st, e)
      if e.dir == C.BL_DIR_CLOSED then
        -- responses that ran to the close end here
        local c = st.conns.by_sk[e.sk]
        st.emit(st.conns:close(e.sk, e.ts), e, c and c.where)
        return
      end
      -- -P/-a pick connections before anything is decoded: other
      -- connections cost nothing and count nothing (malformed included).
      -- A socket's endpoints do not change, so they are made text once, on
      -- its first payload (inet_ntop per payload was a fifth of the cost)
      local c = st.conns.by_sk[e.sk]
      if not c then
        local laddr, raddr = net.pick(opts, e)
        if laddr == nil then return end
        c = st.conns:get(e.sk)
        -- false: connected before the trace began
        c.where = laddr and { laddr = laddr, raddr = raddr, lport = e.lport, rport = e.rport } or false
      end
      -- the decoders are total; should one raise all the same, the payload
      -- is malformed and the connection starts over, the trace goes on
      local ok, rows = pcall(c.feed, c, e)
      if not ok then
        c:bad("decoder error")
        st.conns:close(e.sk)
        rows = {}
      end
      st.emit(rows, e, c.where)
    end, -- the decoders keep values, never the event: one table serves them
         -- all; of each payload, only the bytes captured
    { reuse = true, cut = { data = "caplen" } })
    st.emit = function(rows, e, where)
      for _, r in ipairs(rows) do
        if e.fd == C.BL_TLS_FD then
          r.tls = true
          if r.protocol == "h2c" then r.protocol = "h2" end
        end
        if where then
          r.laddr, r.raddr, r.lport, r.rport = where.laddr, where.raddr, where.lport, where.rport
        end
        if opts.side == "both" or opts.side == r.side then
          st.n = st.n + 1
          r.pid, r.comm = e.pid, e.comm
          r.latency_ms = math.floor(r.latency_ms * 1000 + 0.5) / 1000
          if r.total_ms then r.total_ms = math.floor(r.total_ms * 1000 + 0.5) / 1000 end
          opts.out:record(r, opts.format == "json" and JSON_COLS or COLS)
        end
      end
      opts.out:flush()
    end
    st.stats, st.conns = stats, conns
    local tls, why = false, "--no-tls"
    -- a process's children (-c, --children) may load libssl anew: every process, bl_wanted() filtering
    local only = not (opts.children or opts.command or opts.command_argv) and opts.pid
    if not opts.no_tls then tls, why = attach_tls(st.b, only or -1) end
    opts.out:note(string.format("Tracing HTTP requests%s... Ctrl-C to end.",
      tls and " (and HTTPS through OpenSSL)" or (" (no HTTPS: " .. tostring(why):gsub("\n.*", "") .. ")")))
    return st
  end,

  poll = hooks.poll,
  status = function(st)
    local s = hooks.status(st)
    s.malformed = st.stats.malformed
    return s
  end,
  -- what was skipped or evicted, when anything was: a note, and in JSON a
  -- last object with the counts
  finish = function(st, opts)
    local s = st.stats
    hooks.finish(st, opts, { malformed = s.malformed, evicted_requests = s.evicted_requests,
                             evicted_streams = s.evicted_streams, evicted_connections = s.evicted_connections })
    if s.malformed + s.evicted_requests + s.evicted_streams + s.evicted_connections == 0 then return end
    local why = {}
    for reason, n in pairs(s.why) do why[#why + 1] = string.format("%s: %d", reason, n) end
    table.sort(why)
    opts.out:note(string.format("http: %d malformed frames or messages skipped%s; evicted: %d requests, %d streams, %d connections",
      s.malformed, #why > 0 and (" (" .. table.concat(why, ", ") .. ")") or "",
      s.evicted_requests, s.evicted_streams, s.evicted_connections))
  end,

}
