-- Feeds the OTLP exporter (lua/bpflua/otlp.lua) known metric families,
-- spans and log records, then prints its stats as one JSON line; the test
-- (otlp.sh) compares them and what the receiver got.
--   bpflua driver.lua basic|retry|reject|dead [ENDPOINT]
-- "dead" checks on its own that nothing blocks and memory stays bounded
-- while the collector is unreachable or silent.
local otlp = require("bpflua.otlp")
local scenario, endpoint = arg[1], arg[2]

local START = 1700000000000000000
local NOW = START + 60 * 1000000000

local function families()
  return {
    { name = "bpflua_test_requests_total", help = "Requests served.", type = "counter", series = {
      { labels = { { "method", "GET" }, { "code", "200" } }, value = 42 },
      { labels = { { "method", "POST" }, { "code", "500" } }, value = 7 },
    } },
    { name = "bpflua_test_outstanding_bytes", help = "Bytes allocated and not freed.", type = "gauge", series = {
      { labels = {}, value = 1048576 },
    } },
    { name = "bpflua_test_load_ratio", help = "Load.", type = "gauge", series = {
      { labels = { { "cpu", "0" } }, value = 0.25 },
    } },
    { name = "bpflua_test_empty_total", help = "A family with no series yet.", type = "counter", series = {} },
    { name = "http_server_request_duration_seconds", help = "Duration of HTTP server requests.", type = "histogram",
      series = {
        { labels = { { "http_request_method", "GET" }, { "http_response_status_code", "200" } },
          bounds = { 0.005, 0.01, 0.1, 1 }, counts = { 1, 2, 3, 4, 5 }, sum = 12.5, count = 15 },
        { labels = { { "http_request_method", "GET" }, { "http_response_status_code", "404" } },
          bounds = { 0.005, 0.01, 0.1, 1 }, counts = { 0, 0, 0, 0, 1 }, sum = 3.0, count = 1 },
      } },
  }
end
local POINTS = 6

local function spans(exp, n, first)
  for i = first, first + n - 1 do
    local server = i % 5 ~= 0 -- 4 of 5 are server spans
    exp:span{ name = server and "GET /item" or "GET upstream", kind = server and "server" or "client",
      start_ns = START + i * 1000000, end_ns = START + i * 1000000 + 250000 + i,
      status_code = (server and i % 7 == 0) and "error" or nil,
      attributes = { ["http.request.method"] = "GET", ["http.response.status_code"] = (server and i % 7 == 0) and 500 or 200,
        ["bpflua.seq"] = i } }
  end
end

local function logs(exp, n)
  for i = 1, n do
    exp:log{ time_ns = START + i, body = "tcp session",
      attributes = { ["network.peer.port"] = 8000 + i, ["bpflua.bytes_sent"] = i * 100, ["process.command"] = "workload" } }
  end
end

local function report(exp)
  local s = exp:stats()
  s.last_error = nil
  print(BPF.json(s))
end

if scenario == "basic" then
  -- the endpoint, service name and resource come from OTEL_* variables
  local exp = otlp.new{ batch_max = 10, resource = { ["bpflua.test"] = "basic" } }
  exp:export_metrics(families(), START, NOW)
  spans(exp, 25, 1) -- 10 + 10 + 5
  logs(exp, 7)
  assert(exp:flush(20), "not everything was sent in 20 s")
  -- the exporter's own counters, as the agent exports them
  exp:export_metrics(exp:families(), START, NOW)
  assert(exp:flush(20), "the exporter's own metrics were not sent in 20 s")
  report(exp)
elseif scenario == "retry" then
  -- one request in flight at a time, so the receiver's answers go in order
  -- the metrics go through the receiver's 503s and 429 first, then the spans
  local exp = otlp.new{ endpoint = endpoint, slots = 1, backoff_initial = 0.05, batch_max = 100 }
  exp:export_metrics(families(), START, NOW)
  assert(exp:flush(30), "the metrics were not sent in 30 s")
  spans(exp, 25, 1)
  assert(exp:flush(30), "the spans were not sent in 30 s")
  report(exp)
elseif scenario == "reject" then
  local exp = otlp.new{ endpoint = endpoint, slots = 1, backoff_initial = 0.05 }
  exp:export_metrics(families(), START, NOW)
  assert(exp:flush(10))
  exp:export_metrics(families(), START, NOW)
  assert(exp:flush(10))
  report(exp)
elseif scenario == "dead" then
  local QMAX, ROUNDS = 4, 300
  local exp = otlp.new{ endpoint = endpoint, queue_max = QMAX, batch_max = 5, batch_delay = 0.01,
    max_attempts = 3, backoff_initial = 0.02, timeout = 0.5 }
  local fed, slowest, mem_peak = 0, 0, 0
  collectgarbage()
  local mem_base = collectgarbage("count")
  local t_start = BPF.monotonic()
  for r = 1, ROUNDS do
    local t0 = BPF.monotonic()
    exp:export_metrics(families(), START, NOW + r)
    spans(exp, 2, 2 * r)
    logs(exp, 1)
    exp:pump()
    slowest = math.max(slowest, BPF.monotonic() - t0)
    fed = fed + POINTS + 2 + 1
    local s = exp:stats()
    assert(s.queued + s.in_flight <= QMAX, "queue over its bound: " .. s.queued + s.in_flight)
    assert(s.queued_bytes <= 16 << 20)
    if r % 50 == 0 then
      collectgarbage()
      mem_peak = math.max(mem_peak, collectgarbage("count"))
    end
    BPF.sleep(0.005)
  end
  local loop = BPF.monotonic() - t_start
  exp:flush(10)
  local s = exp:stats()
  -- every item is accounted for: none sent, each failed or dropped
  assert(s.sent == 0, "sent " .. s.sent)
  assert(s.failed + s.dropped == fed, string.format("failed %d + dropped %d ~= fed %d", s.failed, s.dropped, fed))
  assert(s.failed > 0 and s.dropped > 0, "both failures and drops expected")
  assert(s.queued == 0 and s.in_flight == 0)
  -- nothing blocked: no round took 250 ms (the 500 ms timeout waited out
  -- in the caller would), and the loop took about its sleeps' time
  assert(slowest < 0.25, string.format("a round took %.3f s", slowest))
  assert(loop < ROUNDS * 0.005 + 10, string.format("the loop took %.1f s", loop))
  -- memory: the queue bounds it, whatever was fed
  assert(mem_peak - mem_base < 1024, string.format("Lua memory grew %.0f KiB", mem_peak - mem_base))
  io.stderr:write(string.format("dead: fed %d, failed %d, dropped %d, retried %d, slowest round %.1f ms, Lua memory +%.0f KiB\n",
    fed, s.failed, s.dropped, s.retried, slowest * 1000, mem_peak - mem_base))
  report(exp)
elseif scenario == "untrusted" then
  -- a certificate that does not verify fails at once: another try would too
  local exp = otlp.new{ endpoint = endpoint, backoff_initial = 0.05 }
  exp:export_metrics(families(), START, NOW)
  assert(exp:flush(10))
  local s = exp:stats()
  print(BPF.json(s))
elseif scenario == "errors" then
  -- bad settings are usage errors that name what is wrong, before anything is sent
  local function refuses(opts, pattern)
    local ok, err = pcall(otlp.new, opts)
    assert(not ok, "accepted: " .. pattern)
    assert(tostring(err):find(pattern, 1, true), "error " .. tostring(err) .. " does not say " .. pattern)
    print("refused: " .. tostring(err))
  end
  refuses({ endpoint = "ftp://x" }, 'endpoint must be an http:// or https:// URL, not "ftp://x"')
  refuses({ queue_max = 0 }, "queue_max must be a number from 1 to 1e+06")
  refuses({ headers = { ["bad header"] = "x" } }, 'header "bad header" is not a valid HTTP header')
  local ok, err = pcall(otlp.new, { endpoint = "http://127.0.0.1:1" })
  assert(ok, tostring(err))
  local exp = err
  ok, err = pcall(exp.span, exp, { name = "x", kind = "sideways", start_ns = 1, end_ns = 2 })
  assert(not ok and tostring(err):find("span kind must be", 1, true), tostring(err))
  ok, err = pcall(exp.span, exp, { name = "x", start_ns = 1, end_ns = 2, trace_id = "XYZ" })
  assert(not ok and tostring(err):find("trace_id must be 32 lowercase hex digits", 1, true), tostring(err))
  ok, err = pcall(exp.export_metrics, exp, { { name = "h", type = "histogram", series = {
    { labels = {}, bounds = { 1, 2 }, counts = { 1, 2 }, sum = 1, count = 3 } } } }, 1, 2)
  assert(not ok and tostring(err):find("one count per bound and one for +Inf", 1, true), tostring(err))
  -- a kernel (monotonic) timestamp lands on the wall clock
  local skew = otlp.wall_ns(BPF.monotonic_ns()) - BPF.realtime_ns()
  assert(math.abs(skew) < 50000000, "wall_ns is off by " .. skew .. " ns")
  print("errors: ok")
elseif scenario == "env" then
  otlp.new{} -- the OTEL_* variables the test set must be refused
else
  error("usage: driver.lua basic|retry|reject|dead|errors|env [ENDPOINT]")
end
