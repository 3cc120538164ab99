-- The agent's side of the OTLP exporter's contract, with an exporter object
-- of the test's own: spans for HTTP requests (server and client, status
-- codes, the error status where OpenTelemetry says so), log records for TCP
-- sessions, cumulative metrics with histograms in bounds and per-bucket
-- counts, and pump() called from the loop. The workload: net_workload.py's
-- 3 requests answered 200 and 3 answered 404.
-- usage: bpflua exporter_contract.lua TOOLS_DIR
local tools = arg[1]
local fails = 0
local function eq(what, got, want)
  if got ~= want then
    print(string.format("FAIL: %s: got %s, wanted %s", what, tostring(got), tostring(want)))
    fails = fails + 1
  end
end

local rec = { spans = {}, logs = {}, exports = 0, pumps = 0 }
local stub = {
  export_metrics = function(_, families, start_ns, now_ns)
    rec.exports = rec.exports + 1
    rec.families, rec.start_ns, rec.now_ns = families, start_ns, now_ns
  end,
  span = function(_, s)
    -- otlp.lua's span{}: status_code is "ok", "error" or unset (nil)
    if not (s.status_code == nil or s.status_code == "ok" or s.status_code == "error") then
      eq("span status_code", s.status_code, "ok, error or nil")
    end
    rec.spans[#rec.spans + 1] = s
  end,
  log = function(_, l) rec.logs[#rec.logs + 1] = l end,
  pump = function() rec.pumps = rec.pumps + 1 end,
}

local sock = io.popen([[/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])']])
local port = tonumber(sock:read("l"))
sock:close()
local cfg = os.tmpname()
local f = assert(io.open(cfg, "w"))
f:write(string.format([[return { duration = 12, interval = 2, enable_cpu_profiling = false, enable_syscall_tracing = false,
  network = { port = %d, udp = false, tls = false } }]], port))
f:close()
-- the workload starts once the agent is tracing (its probes load in well under 5 s)
os.execute(string.format("(sleep 5; /usr/bin/python3 %s/net_workload.py http %d 3 >/dev/null) &", tools, port))
local t0 = BPF.realtime_ns()
require("bpflua.agent").main({ "--config", cfg, "--listen", "127.0.0.1:0" }, { exporter = stub })
os.remove(cfg)

local by = {}
for _, s in ipairs(rec.spans) do
  local k = string.format("%s %s %s", s.kind, tostring(s.attributes["http.response.status_code"]), s.status_code or "unset")
  by[k] = (by[k] or 0) + 1
  if not (s.start_ns < s.end_ns and s.start_ns >= t0) then eq("span times", s.start_ns .. ".." .. s.end_ns, "ordered") end
  eq("span name", s.name, "GET")
end
eq("server 200 spans, status unset", by["server 200 unset"], 3)
eq("server 404 spans, status unset", by["server 404 unset"], 3)
eq("client 200 spans, status unset", by["client 200 unset"], 3)
eq("client 404 spans, status error", by["client 404 error"], 3)
eq("spans", #rec.spans, 12)
eq("TCP session log records (6 connections, both ends)", #rec.logs, 12)
for _, l in ipairs(rec.logs) do
  eq("log body", l.body, "tcp session")
  if not (l.attributes["network.local.port"] == port or l.attributes["network.peer.port"] == port) then
    eq("log ports", l.attributes["network.local.port"], port)
  end
end
-- 12 s at interval 2: about 6 exports, and one at the end
if rec.exports < 5 then eq("exports", rec.exports, ">= 5") end
if rec.pumps < 50 then eq("pumps", rec.pumps, ">= 50") end
if not (rec.start_ns and rec.start_ns <= t0 + 10e9 and rec.start_ns < rec.now_ns) then eq("start_ns < now_ns", rec.start_ns, rec.now_ns) end
local fam = {}
for _, x in ipairs(rec.families or {}) do fam[x.name] = x end
local h = fam.http_server_request_duration_seconds
eq("server histogram", h and h.type, "histogram")
local per_code = {}
for _, s in ipairs(h and h.series or {}) do
  local code
  for _, l in ipairs(s.labels) do if l[1] == "http_response_status_code" then code = l[2] end end
  per_code[code] = s.count
  eq("counts = bounds + 1", #s.counts, #s.bounds + 1)
  local total = 0
  for i, c in ipairs(s.counts) do
    total = total + c
    if i > 1 and i <= #s.bounds and s.bounds[i] <= s.bounds[i - 1] then eq("ascending bounds", s.bounds[i], ">") end
  end
  eq("buckets add up to count", total, s.count)
  if not (s.sum > 0) then eq("sum", s.sum, "> 0") end
end
eq("200s in the histogram", per_code["200"], 3)
eq("404s in the histogram", per_code["404"], 3)
eq("tcp sessions counter", fam.bpflua_tcp_sessions_total and fam.bpflua_tcp_sessions_total.type, "counter")
if fails > 0 then os.exit(1) end
print("exporter contract: all checks passed")
