-- Helpers the network tracers share: addresses as text, port and address
-- filters, and the check that the kernel has the tracepoints they need.
local probe = require("bpflua.probe")

local M = {}

function M.addr(family, bytes)
  if family == 2 then
    return string.format("%d.%d.%d.%d", bytes[1], bytes[2], bytes[3], bytes[4])
  end
  local groups = {}
  for i = 1, 16, 2 do groups[#groups + 1] = string.format("%x", bytes[i] * 256 + bytes[i + 1]) end
  local s = ":" .. table.concat(groups, ":") .. ":"
  -- the longest run of zero groups becomes "::"
  local best
  for run in s:gmatch(":0:[0:]*") do
    if not best or #run > #best then best = run end
  end
  if best then s = s:gsub(best:gsub("%p", "%%%0"), "::", 1) end
  s = s:gsub("^:([^:])", "%1"):gsub("([^:]):$", "%1")
  return s
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

-- -P PORT and -a ADDR filters, applied in user space to finished records
function M.matches(opts, laddr, lport, raddr, rport)
  if opts.port and lport ~= opts.port and rport ~= opts.port then return false end
  if opts.addr and laddr ~= opts.addr and raddr ~= opts.addr then return false end
  return true
end

local FILTER_ARGS = {
  { "P", "port", type = "int", help = "only connections with this local or remote port" },
  { "a", "addr", type = "string", help = "only connections with this local or remote address" },
}

-- a tracer's own arguments followed by -P and -a
function M.args(own)
  local list = {}
  for _, a in ipairs(own or {}) do list[#list + 1] = a end
  for _, a in ipairs(FILTER_ARGS) do list[#list + 1] = a end
  return list
end

return M
