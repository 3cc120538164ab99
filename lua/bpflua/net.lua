-- Helpers the network tracers share: addresses as text, port and address
-- filters, and where on this kernel each tracer gets its data from.
local probe = require("bpflua.probe")
local events = require("bpflua.events")

local M = {}

-- family: 2 (AF_INET) or 10 (AF_INET6); bytes: a string or a list
function M.addr(family, bytes)
  return BPF.inet_ntop(family, bytes)
end

-- an event's endpoints (the BL_ENDPOINT_FIELDS of probes/endpoints.h) as
-- text; the u8 arrays come decoded as strings of bytes, which inet_ntop takes
function M.endpoints(e)
  return M.addr(e.family, e.laddr), M.addr(e.family, e.raddr)
end

-- What the network tracers stand on, as data: per need, the attach points in
-- order of preference (probe.choose takes the first this kernel has). The
-- sock_*_length tracepoints are 6.3's; before, kprobes on the protocol's own
-- sendmsg/recvmsg carry the same socket and byte count (probes/sock_io.h),
-- entered at `fn`, returning through bl_sock_exit. `define` is the -D
-- option a kprobe choice compiles the snippet with; `optional` needs only
-- add detail (a missing one leaves it out, and the tracer says so in doctor).
local NEEDS = {
  state = { what = "TCP state changes", { "tracepoint", "sock:inet_sock_set_state" } },
  tcp_send = { what = "bytes sent on TCP sockets", { "tracepoint", "sock:sock_send_length" },
               { "kprobe", "tcp_sendmsg", fn = "bl_tcp_send_enter", define = "BL_SEND_KPROBE" } },
  tcp_recv = { what = "bytes received on TCP sockets", { "tracepoint", "sock:sock_recv_length" },
               { "kprobe", "tcp_recvmsg", fn = "bl_tcp_recv_enter", define = "BL_RECV_KPROBE" } },
  udp_send = { what = "UDP datagrams sent", { "tracepoint", "sock:sock_send_length" },
               { "kprobe", "udp_sendmsg", fn = "bl_udp_send_enter", define = "BL_SEND_KPROBE" } },
  udp6_send = { what = "UDP datagrams sent over IPv6", optional = true, { "tracepoint", "sock:sock_send_length" },
                { "kprobe", "udpv6_sendmsg", fn = "bl_udp_send_enter", define = "BL_SEND_KPROBE" } },
  udp_recv = { what = "UDP datagrams received", { "tracepoint", "sock:sock_recv_length" },
               { "kprobe", "udp_recvmsg", fn = "bl_udp_recv_enter", define = "BL_RECV_KPROBE" } },
  udp6_recv = { what = "UDP datagrams received over IPv6", optional = true, { "tracepoint", "sock:sock_recv_length" },
                { "kprobe", "udpv6_recvmsg", fn = "bl_udp_recv_enter", define = "BL_RECV_KPROBE" } },
  -- a failed connect's errno (probes/tcpconnect.c)
  refused = { what = "refused connects", optional = true,
              { "tracepoint", "tcp:tcp_receive_reset", define = "BL_RECEIVE_RESET" } },
}

M.TRACERS = {
  tcplife = { "state", "tcp_send", "tcp_recv" },
  tcpconnect = { "state", "tcp_send", "tcp_recv", "refused" },
  udp = { "udp_send", "udp6_send", "udp_recv", "udp6_recv" },
  http = { "state", "tcp_send", "tcp_recv" },
}

-- A tracer's attach points on this kernel: a list of { need, what, kind,
-- name, fn, define } (kind false: an optional need this kernel cannot meet,
-- with `why`). Raises probe.choose's "missing" error for a required need.
function M.plan(tracer)
  local plan = {}
  for _, need in ipairs(M.TRACERS[tracer]) do
    local n = NEEDS[need]
    local ok, kind, name = pcall(probe.choose, n.what, n)
    if not ok then
      if not n.optional then error(kind, 0) end
      -- probe.choose's lines after the first say what is missing
      local why = tostring(kind.message or kind):gsub("^[^\n]*\n%s*", ""):gsub("\n%s*", "; ")
      plan[#plan + 1] = { need = need, what = n.what, kind = false, why = why }
    else
      local c
      for _, cand in ipairs(n) do if cand[1] == kind and cand[2] == name then c = cand end end
      plan[#plan + 1] = { need = need, what = n.what, kind = kind, name = name, fn = c.fn, define = c.define }
    end
  end
  return plan
end

-- the -D options a plan compiles its snippet with, added to defs
function M.defines(plan, defs)
  local out = {}
  for k, v in pairs(defs or {}) do out[k] = v end
  for _, p in ipairs(plan) do if p.define then out[p.define] = true end end
  return out
end

-- attaches what the snippet does not attach itself: the kprobes (and their
-- kretprobes) of a plan; tracepoints attach by their TRACEPOINT_PROBE names
function M.attach(b, plan)
  for _, p in ipairs(plan) do
    if p.kind == "kprobe" then
      b:attach_kprobe{ event = p.name, fn_name = p.fn }
      b:attach_kretprobe{ event = p.name, fn_name = "bl_sock_exit" }
    end
  end
end

-- a plan as one line: "tracepoint sock:inet_sock_set_state, kprobe+kretprobe tcp_sendmsg, ..."
function M.describe(plan)
  local parts, seen = {}, {}
  for _, p in ipairs(plan) do
    local s = p.kind == "kprobe" and ("kprobe+kretprobe " .. p.name) or p.kind and (p.kind .. " " .. p.name)
              or ("no " .. p.what)
    if not seen[s] then
      seen[s] = true
      parts[#parts + 1] = s
    end
  end
  return table.concat(parts, ", ")
end

-- load a network tracer's snippet as its plan says and attach it
function M.load(tracer, defs, config)
  local plan = M.plan(tracer)
  local b = probe.load(tracer, M.defines(plan, defs), config)
  M.attach(b, plan)
  return b, plan
end

-- The start every network tracer shares: choose the attach points, load the
-- snippet (streaming, drained on a timer), print the text header and hand
-- each event to on_event(st, e). read: more of events.open's options
-- (reuse, cut). Returns the tracer's state.
function M.stream(what, snippet, defs, config, opts, cols, on_event, read)
  local st = { n = 0 }
  st.b, st.plan = M.load(snippet, events.defines(defs, true), config)
  opts.out:header(cols)
  read = read or {}
  st.reader = events.open(st.b, "events", function(e) on_event(st, e) end,
                          { timed = true, reuse = read.reuse, cut = read.cut })
  return st
end

-- An event's endpoints as text if -P/-a want it (nil, nil if not): events
-- of sockets connected before the trace began (family 0) have none.
function M.pick(opts, e)
  local laddr, raddr
  if e.family ~= 0 then laddr, raddr = M.endpoints(e) end
  if (opts.port or opts.addr) and not (laddr and M.matches(opts, laddr, e.lport, raddr, e.rport)) then return end
  return laddr or false, raddr
end

-- -P PORT and -a ADDR filters, applied in user space to finished records
function M.matches(opts, laddr, lport, raddr, rport)
  if opts.port and lport ~= opts.port and rport ~= opts.port then return false end
  if opts.addr and laddr ~= opts.addr and raddr ~= opts.addr then return false end
  return true
end

-- -a takes any form inet_pton reads and compares in the form tracers print
local function parse_addr(v)
  local family, bytes = BPF.inet_pton(v)
  if not family then return nil, "wants an IPv4 or IPv6 address" end
  return M.addr(family, bytes)
end

local FILTER_ARGS = {
  { "P", "port", type = "int", min = 1, max = 65535, help = "only connections with this local or remote port" },
  { "a", "addr", type = "string", parse = parse_addr, help = "only connections with this local or remote address" },
}

-- a tracer's own arguments followed by -P and -a
function M.args(own)
  local list = {}
  for _, a in ipairs(own or {}) do list[#list + 1] = a end
  for _, a in ipairs(FILTER_ARGS) do list[#list + 1] = a end
  return list
end

return M
