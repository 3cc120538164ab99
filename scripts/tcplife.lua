-- tcplife: one line per TCP session when it closes: who, where, how many
-- bytes each way and for how long.
local events = require("bpflua.events")
local net = require("bpflua.net")
local probe = require("bpflua.probe")

local hooks = events.tracer_hooks("tcplife", "sessions")

local COLS = {
  { "pid", "PID", "%-7d" }, { "comm", "COMM", "%-12s" },
  { "laddr", "LADDR", "%-15s" }, { "lport", "LPORT", "%5d" },
  { "raddr", "RADDR", "%-15s" }, { "rport", "RPORT", "%5d" },
  { "tx_bytes", "TX_BYTES", "%9d" }, { "rx_bytes", "RX_BYTES", "%9d" },
  { "duration_ms", "MS", "%9.2f" },
}


return {
  name = "tcplife",
  description = "TCP sessions as they close: addresses, ports, bytes each way, duration",
  containers = true, -- records name a process: --container applies
  args = net.args(),

  init = function(opts)
    local st = net.stream("TCP sessions", "tcplife", {}, probe.who(opts), opts, COLS, function(st, e)
      local laddr, raddr = net.pick(opts, e)
      if not laddr then return end
      st.n = st.n + 1
      opts.out:record({ pid = e.pid, comm = e.pid ~= 0 and e.comm or "[unknown]", laddr = laddr, lport = e.lport,
                        raddr = raddr, rport = e.rport, tx_bytes = e.tx, rx_bytes = e.rx,
                        duration_ms = math.floor(e.duration_ns / 1e4 + 0.5) / 100 }, COLS)
      opts.out:flush()
    end)
    opts.out:note(string.format("Tracing TCP sessions through a %s... Ctrl-C to end.", st.reader:kind()))
    return st
  end,

  poll = hooks.poll,
  status = hooks.status,
  finish = hooks.finish,

}
