-- tcpretrans: TCP retransmissions as they happen: endpoints, the
-- connection's state, and whether the attempt failed; or (--count) how many
-- per connection at the end.
local probe = require("bpflua.probe")
local events = require("bpflua.events")
local net = require("bpflua.net")

local hooks = events.tracer_hooks("tcpretrans", "retransmits")

-- include/net/tcp_states.h
local STATES = { "ESTABLISHED", "SYN_SENT", "SYN_RECV", "FIN_WAIT1", "FIN_WAIT2", "TIME_WAIT", "CLOSE",
                 "CLOSE_WAIT", "LAST_ACK", "LISTEN", "CLOSING", "NEW_SYN_RECV" }

local COLS = {
  { "time", "TIME", "%-8s" }, { "laddr", "LADDR", "%-15s" }, { "lport", "LPORT", "%5d" },
  { "raddr", "RADDR", "%-15s" }, { "rport", "RPORT", "%5d" }, { "state", "STATE", "%-12s" },
  { "result", "RESULT", "%s" },
}
local COUNT_COLS = {
  { "laddr", "LADDR", "%-15s" }, { "lport", "LPORT", "%5d" }, { "raddr", "RADDR", "%-15s" },
  { "rport", "RPORT", "%5d" }, { "retransmits", "RETRANSMITS", "%11d" }, { "failed", "FAILED", "%6d" },
}

-- the kernel says which fields a tracepoint has
local function has_field(tp, field)
  local dir = BPF.features().tracefs
  local f = dir and io.open(dir .. "/events/" .. tp:gsub(":", "/") .. "/format", "r")
  if not f then return false end
  local s = f:read("a") or ""
  f:close()
  return s:find("field:[^;]*[ *]" .. field .. ";") ~= nil
end

local function on_event(st, opts, e)
  local laddr, raddr = net.pick(opts, e)
  if not laddr then return end
  st.n = st.n + 1
  local result = e.err == 0 and "sent" or ("failed " .. (BPF.errno_name(-e.err) or tostring(e.err)))
  if opts.count then
    local key = table.concat({ laddr, e.lport, raddr, e.rport }, " ")
    local c = st.conns[key]
    if not c then
      c = { laddr = laddr, lport = e.lport, raddr = raddr, rport = e.rport, retransmits = 0, failed = 0 }
      st.conns[key] = c
      st.order[#st.order + 1] = c
    end
    if e.err == 0 then c.retransmits = c.retransmits + 1 else c.failed = c.failed + 1 end
    return
  end
  opts.out:record({ time = os.date("%H:%M:%S"), laddr = laddr, lport = e.lport, raddr = raddr, rport = e.rport,
                    state = STATES[e.state] or tostring(e.state), result = result, err = e.err }, COLS)
  opts.out:flush()
end

return {
  name = "tcpretrans",
  description = "TCP retransmissions: endpoints, state and result, or a count per connection (--count)",
  args = net.args({
    { nil, "count", type = "flag", help = "count per connection and print at the end, instead of one line each" },
  }),

  check = function(opts)
    if opts.pid or opts.command or opts.command_argv then
      return "retransmits run in the kernel's timers, not in a process: filter with -P PORT or -a ADDR instead of -p/-c"
    end
  end,

  init = function(opts)
    probe.choose("TCP retransmits", { { "tracepoint", "tcp:tcp_retransmit_skb" } })
    local st = { n = 0, conns = {}, order = {} }
    st.b = probe.load("tcpretrans", events.defines({ HAVE_ERR = has_field("tcp:tcp_retransmit_skb", "err") }, true),
                      { exclude_pid = BPF.getpid() })
    if not opts.count then opts.out:header(COLS) end
    st.reader = events.open(st.b, "events", function(e) on_event(st, opts, e) end, { timed = true })
    opts.out:note("Tracing TCP retransmits... Ctrl-C to end.")
    return st
  end,

  report = function(st, opts)
    if not opts.count then return end
    st.reader:drain()
    opts.out:table(st.order, COUNT_COLS)
    st.conns, st.order = {}, {}
  end,

  poll = hooks.poll,
  status = hooks.status,
  finish = hooks.finish,
}
