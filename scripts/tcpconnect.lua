-- tcpconnect: TCP connects as they happen, with their latency; with
-- --mode accept (or both) the connections a process accepts too.
local events = require("bpflua.events")
local net = require("bpflua.net")
local probe = require("bpflua.probe")

local hooks = events.tracer_hooks("tcpconnect", "connections")

local COLS = {
  { "pid", "PID", "%-7d" }, { "comm", "COMM", "%-12s" }, { "dir", "DIR", "%-7s" },
  { "laddr", "LADDR", "%-15s" }, { "lport", "LPORT", "%5d" },
  { "raddr", "RADDR", "%-15s" }, { "rport", "RPORT", "%5d" },
  { "latency_ms", "LAT(ms)", "%8.3f" }, { "result", "RESULT", "%s" },
}

local args = net.args({
  { nil, "mode", type = "choice", choices = { "connect", "accept", "both" }, default = "connect",
    help = "which side: connects, accepts or both" },
})

return {
  name = "tcpconnect",
  description = "TCP connects with their latency (and accepts, with --mode accept|both)",
  containers = true, -- records name a process: --container applies
  args = args,

  init = function(opts)
    local st = net.stream("TCP connects", "tcpconnect", {}, probe.who(opts), opts, COLS, function(st, e)
      local dir = e.accept == 1 and "accept" or "connect"
      if opts.mode ~= "both" and opts.mode ~= dir then return end
      local laddr, raddr = net.pick(opts, e)
      if not laddr then return end
      st.n = st.n + 1
      opts.out:record({ pid = e.pid, comm = e.pid ~= 0 and e.comm or "[unknown]", dir = dir,
                        laddr = laddr, lport = e.lport, raddr = raddr, rport = e.rport,
                        latency_ms = e.accept == 0 and math.floor(e.latency_ns / 1e3 + 0.5) / 1000 or nil,
                        result = e.failed == 0 and "ok" or e.err ~= 0 and BPF.errno_name(e.err) or "failed" }, COLS)
      opts.out:flush()
    end)
    opts.out:note(string.format("Tracing TCP %s... Ctrl-C to end.", opts.mode == "both" and "connects and accepts" or (opts.mode .. "s")))
    return st
  end,

  poll = hooks.poll,
  status = hooks.status,
  finish = hooks.finish,
}
