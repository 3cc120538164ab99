-- Helpers the network tracers share: addresses as text, port and address
-- filters, and the check that the kernel has the tracepoints they need.
local probe = require("bpflua.probe")
local events = require("bpflua.events")

local M = {}

-- family: 2 (AF_INET) or 10 (AF_INET6); bytes: a string or a list
function M.addr(family, bytes)
  return BPF.inet_ntop(family, bytes)
end

-- the arrays come decoded as strings of bytes or as lists: both work
function M.bytes(v)
  if type(v) == "table" then return v end
  return { v:byte(1, -1) }
end

-- an event's endpoints (the BL_ENDPOINT_FIELDS of probes/endpoints.h) as text
function M.endpoints(e)
  return M.addr(e.family, M.bytes(e.laddr)), M.addr(e.family, M.bytes(e.raddr))
end

-- what the TCP tracers stand on
M.TCP_TRACEPOINTS = { "sock:inet_sock_set_state", "sock:sock_send_length", "sock:sock_recv_length" }

-- tracepoints a tracer cannot do without, with a message naming them
function M.need(what, tracepoints)
  for _, tp in ipairs(tracepoints) do probe.choose(what, { { "tracepoint", tp } }) end
end

-- The start every network tracer shares: check the tracepoints, load the
-- snippet (streaming, drained on a timer), print the text header and hand
-- each event to on_event(st, e). Returns the tracer's state.
function M.stream(what, snippet, defs, config, opts, cols, on_event)
  M.need(what, M.TCP_TRACEPOINTS)
  local st = { n = 0 }
  st.b = probe.load(snippet, events.defines(defs, true), config)
  opts.out:header(cols)
  st.reader = events.open(st.b, "events", function(e) on_event(st, e) end, { timed = true })
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
