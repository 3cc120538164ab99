-- udp: datagrams and bytes per process, direction and remote endpoint.
local net = require("bpflua.net")
local probe = require("bpflua.probe")

local COLS = {
  { "pid", "PID", "%-7d" }, { "comm", "COMM", "%-14s" }, { "direction", "DIR", "%-5s" },
  { "raddr", "RADDR", "%-22s" }, { "rport", "RPORT", "%5s" },
  { "datagrams", "DATAGRAMS", "%10d" }, { "bytes", "BYTES", "%12d" },
}

local args = net.args({
  { "T", "top", type = "int", default = 20, min = 0, help = "show the top N rows by bytes (0: all)" },
})

return {
  name = "udp",
  description = "UDP datagrams and bytes per process and remote endpoint, sent and received",
  containers = true, -- records name a process: --container applies
  args = args,

  init = function(opts)
    local b = net.load("udp", {}, probe.who(opts))
    opts.out:note("Tracing UDP datagrams... Ctrl-C to end.")
    return { b = b, stats = b:get_table("stats") }
  end,

  report = function(st, opts)
    local rows = {}
    for k, v in st.stats:items() do
      local raddr = k.family ~= 0 and net.addr(k.family, k.addr) or "(connected)"
      local rport = k.family ~= 0 and k.port or nil
      if net.matches(opts, nil, nil, raddr, rport) then
        rows[#rows + 1] = { pid = k.pid, comm = k.comm, direction = k.dir == 0 and "send" or "recv",
                            raddr = raddr, rport = rport, datagrams = v.datagrams, bytes = v.bytes }
      end
    end
    table.sort(rows, function(a, b)
      if a.bytes ~= b.bytes then return a.bytes > b.bytes end
      return a.pid < b.pid
    end)
    if opts.top > 0 then for i = #rows, opts.top + 1, -1 do rows[i] = nil end end
    opts.out:table(rows, COLS)
    st.stats:clear()
  end,
}
