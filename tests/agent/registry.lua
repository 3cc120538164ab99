-- The metrics registry and the Prometheus text format, without a kernel:
-- hostile label values, the series cap and its dropped count, log2
-- histograms' buckets and exact sums. Writes the text to arg[1] for
-- promtool; exact numbers checked here.
local metrics = require("bpflua.metrics")
local prometheus = require("bpflua.prometheus")

local fails = 0
local function eq(what, got, want)
  if got ~= want then
    print(string.format("FAIL: %s: got %s, wanted %s", what, tostring(got), tostring(want)))
    fails = fails + 1
  end
end

local reg = metrics.new{ max_series = 3 }
local c = reg:counter{ name = "t_calls_total", labels = { "comm" }, help = "calls\nby \\ command" }
c:add({ "\27]0;pwn\7\n\255\254X" }, 2)
c:add({ 'quote"d' }, 1)
c:add({ "third" }, 1)
for i = 1, 5 do c:add({ "over" .. i }, 1) end -- 5 label sets refused
c:add({ "over1" }, 1)                          -- the same one again: not a new drop
c:add({ "third" }, 4)
local h = reg:histogram{ name = "t_latency_seconds", labels = { "op" }, unit_scale = 1e-6, help = "latency" }
-- slots as bpf_log2l gives them: 1 us -> slot 1, 3 us -> slot 2, 1000 us -> slot 10
h:observe_log2({ "read" }, { [1] = 2, [2] = 1, [10] = 1 }, 1 + 1 + 3 + 1000)
h:observe({ "write" }, 3)
local g = reg:gauge{ name = "t_bytes", help = "bytes" }
g:set({}, 12345)

local fams = {}
for _, f in ipairs(reg:collect()) do fams[f.name] = f end
eq("series kept", #fams.t_calls_total.series, 3)
eq("third", fams.t_calls_total.series[3].value, 5)
eq("dropped", fams.bpflua_series_dropped_total.series[1].value, 5)
eq("dropped family label", fams.bpflua_series_dropped_total.series[1].labels[1][2], "t_calls_total")
local r = fams.t_latency_seconds.series[1]
eq("bounds", #r.bounds, 11)                 -- slots 0..10
eq("bound of slot 10", r.bounds[11], 1023e-6)
eq("count", r.count, 4)
eq("sum", r.sum, 1005e-6)
eq("+Inf bucket", r.counts[#r.counts], 0)
local w = fams.t_latency_seconds.series[2]
eq("write: same buckets", #w.bounds, 11)
eq("write: slot 2", w.counts[3], 1)

local text = prometheus.render(reg:collect())
eq("help escaped", text:find("# HELP t_calls_total calls\\nby \\\\ command\n", 1, true) ~= nil, true)
eq("hostile label escaped", text:find('t_calls_total{comm="\\\\x1b]0;pwn\\\\x07\\\\n\\\\xff\\\\xfeX"} 2', 1, true) ~= nil, true)
eq("quote escaped", text:find('t_calls_total{comm="quote\\"d"} 1', 1, true) ~= nil, true)
eq("cumulative le=3e-06", text:find('t_latency_seconds_bucket{op="read",le="3e-06"} 3\n', 1, true) ~= nil, true)
eq("+Inf = count", text:find('t_latency_seconds_bucket{op="read",le="+Inf"} 4\n', 1, true) ~= nil, true)
eq("sum", text:find('t_latency_seconds_sum{op="read"} 0.001005\n', 1, true) ~= nil, true)
eq("gauge", text:find("t_bytes 12345\n", 1, true) ~= nil, true)
local f = assert(io.open(arg[1], "w"))
f:write(text)
f:close()
if fails > 0 then os.exit(1) end
print("registry: all checks passed")
