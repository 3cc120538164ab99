-- OTLP/HTTP with the JSON encoding: metrics, spans and log records pushed
-- to an OpenTelemetry Collector (or anything that speaks OTLP/HTTP).
--
--   local exp = require("bpflua.otlp").new{ endpoint = "http://127.0.0.1:4318" }
--   exp:export_metrics(reg:collect(), start_ns, now_ns)
--   exp:span{ name = "GET /", kind = "server", start_ns = a, end_ns = b, attributes = {...} }
--   exp:log{ time_ns = t, body = "tcp session", attributes = {...} }
--   exp:pump()          -- often, from the event loop: never waits
--   exp:stats()         -- sent, failed, dropped, retried (items), ...
--
-- Nothing here may hold up tracing: requests go through BPF.http_client
-- (lua/http_client.c, libcurl's multi interface), which only does what the
-- sockets allow at once. Requests wait in a queue bounded in count and bytes;
-- what does not fit is dropped and counted. Only 429, 502, 503 and 504 and a
-- collector that cannot be reached are retried (OTLP/HTTP's retryable
-- answers), with exponential backoff or the server's Retry-After.
local M = {}
M.__index = M

local DEFAULT_ENDPOINT = "http://localhost:4318"
local SIGNAL_ENV = { metrics = "METRICS", traces = "TRACES", logs = "LOGS" }
local RETRYABLE = { [429] = true, [502] = true, [503] = true, [504] = true }
local SPAN_KIND = { internal = 1, server = 2, client = 3, producer = 4, consumer = 5 }
local STATUS_CODE = { unset = 0, ok = 1, error = 2 }
local SEVERITY = { trace = 1, debug = 5, info = 9, warn = 13, error = 17, fatal = 21 }
-- Prometheus unit suffixes and their UCUM units, as the OpenTelemetry
-- Prometheus compatibility spec converts them (full words to abbreviations,
-- "ratio" to "1"); longest first so "_milliseconds" is not read as "_seconds"
local UNIT_SUFFIXES = {
  { "_milliseconds", "ms" }, { "_microseconds", "us" }, { "_nanoseconds", "ns" },
  { "_seconds", "s" }, { "_kilobytes", "kBy" }, { "_megabytes", "MBy" }, { "_bytes", "By" },
  { "_ratio", "1" }, { "_percent", "%" }, { "_celsius", "Cel" }, { "_hertz", "Hz" },
}

local function usage(fmt, ...)
  error(BPF.error("usage", "otlp: " .. string.format(fmt, ...)), 3)
end

-- "k=v,k2=v2" with percent-encoded keys and values: OTEL_RESOURCE_ATTRIBUTES
-- and OTEL_EXPORTER_OTLP_HEADERS. Untrusted text: anything else is an error
-- that names the variable.
local function parse_pairs(s, what)
  local out = {}
  for item in (s .. ","):gmatch("([^,]*),") do
    if item:match("%S") then
      local k, v = item:match("^%s*([^=]-)%s*=%s*(.-)%s*$")
      if not k or k == "" then usage("%s: '%s' is not key=value", what, item) end
      local function dec(x)
        return (x:gsub("%%(%x%x)", function(h) return string.char(tonumber(h, 16)) end))
      end
      out[#out + 1] = { dec(k), dec(v) }
    end
  end
  return out
end

-- {k=v} from the caller as {k, v} pairs sorted by key (strings only)
local function sorted_pairs(t, what)
  local out = {}
  if t == nil then return out end
  if type(t) ~= "table" then usage("%s must be a table of name = value", what) end
  for k, v in pairs(t) do
    if type(k) ~= "string" then usage("%s: names must be strings, not %s", what, tostring(k)) end
    out[#out + 1] = { k, v }
  end
  table.sort(out, function(a, b) return a[1] < b[1] end)
  return out
end

local function env(name)
  local v = os.getenv(name)
  if v and v ~= "" then return v end
end

-- the spec: OTEL_EXPORTER_OTLP_ENDPOINT (or endpoint=) is a base to which
-- "v1/<signal>" is appended; the per-signal variables are used as they are
local function signal_url(base, signal)
  if base:sub(-1) ~= "/" then base = base .. "/" end
  return base .. "v1/" .. signal
end

local function check_url(url, what)
  if type(url) ~= "string" or not url:match("^https?://[^/%s]+[^%s]*$") then
    usage("%s must be an http:// or https:// URL, not %q", what, tostring(url))
  end
  return url
end

local function hostname()
  local f = io.open("/proc/sys/kernel/hostname")
  local h = f and f:read("l")
  if f then f:close() end
  return h
end

local function ns_string(v, what)
  local n = math.tointeger(v) or (type(v) == "number" and v == v and math.floor(v))
  if not n then error("otlp: " .. what .. " must be nanoseconds (a number), not " .. tostring(v), 3) end
  return string.format("%d", n)
end

-- An AnyValue. JSON numbers lose int64 precision, so integers go as strings.
local function any_value(v)
  local t = type(v)
  if t == "string" then return { stringValue = v } end
  if t == "boolean" then return { boolValue = v } end
  if t == "number" then
    if math.type(v) == "integer" then return { intValue = string.format("%d", v) } end
    if v ~= v then return { doubleValue = "NaN" } end
    if v == math.huge then return { doubleValue = "Infinity" } end
    if v == -math.huge then return { doubleValue = "-Infinity" } end
    return { doubleValue = v }
  end
  if t == "table" then
    if #v > 0 or next(v) == nil then
      local values = {}
      for i, x in ipairs(v) do values[i] = any_value(x) end
      return { arrayValue = { values = values } }
    end
    local kv = {}
    local keys = {}
    for k in pairs(v) do keys[#keys + 1] = tostring(k) end
    table.sort(keys)
    for _, k in ipairs(keys) do kv[#kv + 1] = { key = k, value = any_value(v[k]) } end
    return { kvlistValue = { values = kv } }
  end
  return { stringValue = tostring(v) }
end

-- {k=v} (sorted by key) or a list of {k, v} pairs (kept in order)
local function attributes(a)
  local out = {}
  if not a then return out end
  if #a > 0 then
    for _, p in ipairs(a) do out[#out + 1] = { key = tostring(p[1]), value = any_value(p[2]) } end
    return out
  end
  local keys = {}
  for k in pairs(a) do keys[#keys + 1] = tostring(k) end
  table.sort(keys)
  for _, k in ipairs(keys) do out[#out + 1] = { key = k, value = any_value(a[k]) } end
  return out
end

local function random_hex(bytes)
  local parts = {}
  for i = 1, bytes // 4 do parts[i] = string.format("%08x", math.random(0, 0xffffffff)) end
  local s = table.concat(parts)
  if not s:find("[^0]") then return random_hex(bytes) end -- all zeros is "no id"
  return s
end

local function check_id(v, len, what)
  if v == nil then return nil end
  if type(v) ~= "string" or #v ~= len or v:find("[^0-9a-f]") or not v:find("[^0]") then
    error(string.format("otlp: %s must be %d lowercase hex digits, not all zero", what, len), 3)
  end
  return v
end

-- opts: endpoint (base URL; default OTEL_EXPORTER_OTLP_ENDPOINT, then
-- http://localhost:4318), service_name, resource = {k=v}, headers = {k=v},
-- queue_max (requests waiting or in flight, default 64), queue_max_bytes
-- (default 16 MiB), batch_max (spans or logs per request, 512),
-- batch_delay (seconds a span or log waits for company, 1), max_attempts (5),
-- backoff_initial (1 s), backoff_max (30 s), ca_file, client_cert,
-- client_key (TLS; default OTEL_EXPORTER_OTLP_CERTIFICATE,
-- OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE, OTEL_EXPORTER_OTLP_CLIENT_KEY),
-- compression ("gzip" or "none"; default OTEL_EXPORTER_OTLP_COMPRESSION or
-- none), timeout (s; default OTEL_EXPORTER_OTLP_TIMEOUT or 10), slots
-- (requests in flight at once, 2).
function M.new(opts)
  opts = opts or {}
  if type(opts) ~= "table" then usage("options must be a table") end
  local proto = env("OTEL_EXPORTER_OTLP_PROTOCOL")
  if proto and proto ~= "http/json" then
    usage("OTEL_EXPORTER_OTLP_PROTOCOL is %q; bpflua sends OTLP/HTTP with the JSON encoding only (http/json)", proto)
  end
  local self = setmetatable({
    queue = {}, inflight = {}, queued_bytes = 0,
    spans = {}, logs = {}, spans_since = nil, logs_since = nil,
    counts = { sent = 0, failed = 0, dropped = 0, retried = 0, rejected = 0, requests = 0 },
    by_signal = {},
    urls = {}, headers = {}, gzip = {},
  }, M)
  local function num(key, def, min, max)
    local v = opts[key]
    if v == nil then return def end
    if type(v) ~= "number" or not (v >= min and v <= max) then
      usage("%s must be a number from %g to %g", key, min, max)
    end
    return v
  end
  self.queue_max = math.floor(num("queue_max", 64, 1, 1e6))
  self.queue_max_bytes = math.floor(num("queue_max_bytes", 16 << 20, 1024, 1 << 40))
  self.batch_max = math.floor(num("batch_max", 512, 1, 1e6))
  self.batch_delay = num("batch_delay", 1, 0, 3600)
  self.max_attempts = math.floor(num("max_attempts", 5, 1, 100))
  self.backoff_initial = num("backoff_initial", 1, 0.001, 3600)
  self.backoff_max = num("backoff_max", 30, 0.001, 3600)
  self.retry_after_max = num("retry_after_max", 300, 0, 86400)
  local env_timeout = env("OTEL_EXPORTER_OTLP_TIMEOUT")
  local timeout = opts.timeout
  if timeout == nil and env_timeout then
    timeout = tonumber(env_timeout)
    if not timeout or timeout <= 0 then usage("OTEL_EXPORTER_OTLP_TIMEOUT must be milliseconds, not %q", env_timeout) end
    timeout = timeout / 1000
  end
  timeout = timeout or 10
  if type(timeout) ~= "number" or not (timeout > 0 and timeout <= 3600) then usage("timeout must be seconds from 0 to 3600") end

  local base = opts.endpoint or env("OTEL_EXPORTER_OTLP_ENDPOINT") or DEFAULT_ENDPOINT
  check_url(base, opts.endpoint and "endpoint" or "OTEL_EXPORTER_OTLP_ENDPOINT")
  local base_headers = parse_pairs(env("OTEL_EXPORTER_OTLP_HEADERS") or "", "OTEL_EXPORTER_OTLP_HEADERS")
  for signal, E in pairs(SIGNAL_ENV) do
    local var = "OTEL_EXPORTER_OTLP_" .. E .. "_ENDPOINT"
    local given = opts.endpoint == nil and env(var)
    self.urls[signal] = given and check_url(given, var) or signal_url(base, signal)
    local h = { "Content-Type: application/json" }
    local list = {}
    for _, p in ipairs(base_headers) do list[#list + 1] = p end
    for _, p in ipairs(parse_pairs(env("OTEL_EXPORTER_OTLP_" .. E .. "_HEADERS") or "",
      "OTEL_EXPORTER_OTLP_" .. E .. "_HEADERS")) do list[#list + 1] = p end
    for _, p in ipairs(sorted_pairs(opts.headers, "headers")) do list[#list + 1] = p end
    for _, p in ipairs(list) do
      local k, v = tostring(p[1]), tostring(p[2])
      if not k:match("^[%w!#$%%&'*+.^_`|~-]+$") or v:find("[\r\n]") then usage("header %q is not a valid HTTP header", k) end
      h[#h + 1] = k .. ": " .. v
    end
    self.headers[signal] = h
    local cvar = "OTEL_EXPORTER_OTLP_" .. E .. "_COMPRESSION"
    local comp = opts.compression or env(cvar) or env("OTEL_EXPORTER_OTLP_COMPRESSION") or "none"
    if comp ~= "gzip" and comp ~= "none" then
      usage("compression (%s) must be gzip or none, not %q",
        opts.compression and "compression=" or env(cvar) and cvar or "OTEL_EXPORTER_OTLP_COMPRESSION", comp)
    end
    self.gzip[signal] = comp == "gzip"
  end

  -- the resource: defaults, then OTEL_RESOURCE_ATTRIBUTES, then
  -- OTEL_SERVICE_NAME, then what the caller says
  local res, order = {}, {}
  local function put(k, v)
    if res[k] == nil then order[#order + 1] = k end
    res[k] = v
  end
  put("service.name", "bpflua")
  put("host.name", hostname())
  put("telemetry.sdk.name", "bpflua")
  put("telemetry.sdk.language", "lua")
  for _, p in ipairs(parse_pairs(env("OTEL_RESOURCE_ATTRIBUTES") or "", "OTEL_RESOURCE_ATTRIBUTES")) do put(p[1], p[2]) end
  if env("OTEL_SERVICE_NAME") then put("service.name", env("OTEL_SERVICE_NAME")) end
  for _, p in ipairs(sorted_pairs(opts.resource, "resource")) do put(p[1], p[2]) end
  if opts.service_name then put("service.name", tostring(opts.service_name)) end
  local pairs_list = {}
  for _, k in ipairs(order) do
    if res[k] ~= nil then pairs_list[#pairs_list + 1] = { k, res[k] } end
  end
  self.resource = { attributes = attributes(pairs_list) }
  self.resource_map = res
  self.scope = { name = "bpflua", version = opts.scope_version or "0.1.0" }

  -- TLS: a private CA for the collector, a client certificate and key
  local tls = {}
  for key, var in pairs({ ca_file = "CERTIFICATE", client_cert = "CLIENT_CERTIFICATE", client_key = "CLIENT_KEY" }) do
    local v = opts[key] or env("OTEL_EXPORTER_OTLP_" .. var)
    if v ~= nil and type(v) ~= "string" then usage("%s must be a file name", key) end
    if v then
      local f = io.open(v, "r")
      if not f then usage("%s: cannot read %s", opts[key] and key or "OTEL_EXPORTER_OTLP_" .. var, v) end
      f:close()
    end
    tls[key] = v
  end
  self.client = BPF.http_client{ slots = math.floor(num("slots", 2, 1, 64)), timeout = timeout,
    connect_timeout = math.min(timeout, 5), ca_file = tls.ca_file, client_cert = tls.client_cert,
    client_key = tls.client_key }
  return self
end

-- items (points, spans, log records) by outcome, in all and per signal
function M:count(signal, what, n)
  self.counts[what] = self.counts[what] + n
  local b = self.by_signal[signal]
  if not b then
    b = { sent = 0, failed = 0, dropped = 0, retried = 0, rejected = 0, requests = 0 }
    self.by_signal[signal] = b
  end
  b[what] = b[what] + n
end

-- The queue: requests waiting (not_before: not sent again before then) or
-- in flight. Both count against the bounds: a retried body is kept.
local function enqueue(self, signal, body, items)
  if #self.queue + self:in_flight() >= self.queue_max or self.queued_bytes + #body > self.queue_max_bytes then
    self:count(signal, "dropped", items)
    return false
  end
  self.queue[#self.queue + 1] = { signal = signal, body = body, items = items, attempts = 0, not_before = 0 }
  self.queued_bytes = self.queued_bytes + #body
  return true
end

function M:in_flight()
  local n = 0
  for _ in pairs(self.inflight) do n = n + 1 end
  return n
end

local function request(self, signal, payload, items)
  return enqueue(self, signal, BPF.json(payload), items)
end

-- A kernel timestamp (bpf_ktime_get_ns: CLOCK_MONOTONIC) on the wall
-- clock OTLP wants, through the offset between the two clocks now.
function M.wall_ns(monotonic_ns)
  return BPF.realtime_ns() - BPF.monotonic_ns() + monotonic_ns
end

-- Prometheus names back to OTLP: a counter's "_total" goes (the exporter on
-- the way out adds it again to monotonic sums); the unit comes from the
-- unit suffix, which stays, as the spec keeps names otherwise unaltered
function M.metric_name(name, typ)
  if typ == "counter" then name = name:gsub("_total$", "") end
  for _, s in ipairs(UNIT_SUFFIXES) do
    if #name > #s[1] and name:sub(-#s[1]) == s[1] then return name, s[2] end
  end
  return name, nil
end

local function number_point(p, v, what)
  if math.type(v) == "integer" then
    p.asInt = string.format("%d", v)
  elseif type(v) == "number" then
    p.asDouble = any_value(v).doubleValue
  else
    error("otlp: " .. what .. ": a series value must be a number, not " .. tostring(v), 4)
  end
  return p
end

local function label_attributes(labels)
  local out = {}
  for _, l in ipairs(labels or {}) do
    out[#out + 1] = { key = tostring(l[1]), value = { stringValue = tostring(l[2]) } }
  end
  return out
end

-- families: as reg:collect() gives them (see lua/bpflua/metrics.lua);
-- cumulative temporality, every point from start_ns to now_ns
function M:export_metrics(families, start_ns, now_ns)
  local start_s = ns_string(start_ns, "start_ns")
  local now_s = ns_string(now_ns or BPF.realtime_ns(), "now_ns")
  local metrics, points = {}, 0
  for _, f in ipairs(families) do
    local name, unit = M.metric_name(f.name, f.type)
    local m = { name = name, description = f.help, unit = f.unit or unit }
    local dps = {}
    for _, s in ipairs(f.series or {}) do
      local p = { attributes = label_attributes(s.labels), startTimeUnixNano = start_s, timeUnixNano = now_s }
      if f.type == "histogram" then
        local bounds, counts = s.bounds or {}, s.counts or {}
        if #counts ~= #bounds + 1 then
          error(string.format("otlp: %s: a histogram series needs one count per bound and one for +Inf (%d bounds, %d counts)",
            f.name, #bounds, #counts), 2)
        end
        local bc, eb = {}, {}
        for i, c in ipairs(counts) do bc[i] = ns_string(c, f.name .. " bucket count") end
        for i, b in ipairs(bounds) do eb[i] = b + 0.0 end
        p.count = ns_string(s.count, f.name .. " count")
        p.sum = s.sum and any_value(s.sum + 0.0).doubleValue
        p.bucketCounts = bc
        p.explicitBounds = eb
      else
        number_point(p, s.value, f.name)
      end
      dps[#dps + 1] = p
    end
    if #dps > 0 then
      points = points + #dps
      if f.type == "counter" then
        m.sum = { aggregationTemporality = 2, isMonotonic = true, dataPoints = dps }
      elseif f.type == "gauge" then
        m.gauge = { dataPoints = dps }
      elseif f.type == "histogram" then
        m.histogram = { aggregationTemporality = 2, dataPoints = dps }
      else
        error("otlp: " .. tostring(f.name) .. ": unknown metric type " .. tostring(f.type), 2)
      end
      metrics[#metrics + 1] = m
    end
  end
  if points == 0 then return true end
  return request(self, "metrics", { resourceMetrics = { {
    resource = self.resource, scopeMetrics = { { scope = self.scope, metrics = metrics } } } } }, points)
end

local function flush_spans(self)
  if #self.spans == 0 then return end
  local spans = self.spans
  self.spans, self.spans_since = {}, nil
  request(self, "traces", { resourceSpans = { {
    resource = self.resource, scopeSpans = { { scope = self.scope, spans = spans } } } } }, #spans)
end

local function flush_logs(self)
  if #self.logs == 0 then return end
  local logs = self.logs
  self.logs, self.logs_since = {}, nil
  request(self, "logs", { resourceLogs = { {
    resource = self.resource, scopeLogs = { { scope = self.scope, logRecords = logs } } } } }, #logs)
end

-- s: name, kind ("server", "client", ...), start_ns, end_ns, attributes,
-- status_code ("ok", "error" or unset), status_message, trace_id,
-- span_id, parent_span_id (hex). Returns the span's ids.
function M:span(s)
  local kind = SPAN_KIND[s.kind or "internal"]
  if not kind then error("otlp: span kind must be server, client, internal, producer or consumer, not " .. tostring(s.kind), 2) end
  local code = STATUS_CODE[s.status_code or "unset"]
  if not code then error("otlp: span status_code must be ok, error or unset, not " .. tostring(s.status_code), 2) end
  local trace_id = check_id(s.trace_id, 32, "trace_id") or random_hex(16)
  local span_id = check_id(s.span_id, 16, "span_id") or random_hex(8)
  local sp = {
    traceId = trace_id, spanId = span_id, parentSpanId = check_id(s.parent_span_id, 16, "parent_span_id"),
    name = tostring(s.name or "span"), kind = kind,
    startTimeUnixNano = ns_string(s.start_ns, "start_ns"), endTimeUnixNano = ns_string(s.end_ns, "end_ns"),
    attributes = attributes(s.attributes),
  }
  if code ~= 0 then sp.status = { code = code, message = s.status_message } end
  self.spans[#self.spans + 1] = sp
  self.spans_since = self.spans_since or BPF.monotonic()
  if #self.spans >= self.batch_max then flush_spans(self) end
  return trace_id, span_id
end

-- r: time_ns, body (string, number or table), attributes, severity
-- ("info" unless said), trace_id, span_id
function M:log(r)
  local sev = r.severity or "info"
  if not SEVERITY[sev] then error("otlp: log severity must be trace, debug, info, warn, error or fatal, not " .. tostring(sev), 2) end
  local now = ns_string(BPF.realtime_ns(), "now")
  self.logs[#self.logs + 1] = {
    timeUnixNano = r.time_ns and ns_string(r.time_ns, "time_ns") or now,
    observedTimeUnixNano = now,
    severityNumber = SEVERITY[sev], severityText = sev:upper(),
    body = r.body ~= nil and any_value(r.body) or nil,
    attributes = attributes(r.attributes),
    traceId = check_id(r.trace_id, 32, "trace_id"), spanId = check_id(r.span_id, 16, "span_id"),
  }
  self.logs_since = self.logs_since or BPF.monotonic()
  if #self.logs >= self.batch_max then flush_logs(self) end
end

local function backoff(self, req, retry_after)
  if retry_after then return math.min(retry_after, self.retry_after_max) end
  local d = math.min(self.backoff_initial * 2 ^ (req.attempts - 1), self.backoff_max)
  return d * (1 + 0.2 * math.random()) -- jitter: many agents, one collector
end

local function finished(self, done)
  local now = BPF.monotonic() -- after the answer came: Retry-After counts from here
  for _, d in ipairs(done) do
    local req = self.inflight[d.id]
    if req then
      self.inflight[d.id] = nil
      if d.status and d.status >= 200 and d.status < 300 then
        -- a partial success names what the collector rejected
        local rejected = tonumber((d.body or ""):match('"rejected%a+"%s*:%s*"?(%d+)')) or 0
        rejected = math.min(rejected, req.items)
        self:count(req.signal, "sent", req.items - rejected)
        self:count(req.signal, "rejected", rejected)
        self:count(req.signal, "requests", 1)
        self.queued_bytes = self.queued_bytes - #req.body
      elseif (d.transient or RETRYABLE[d.status]) and req.attempts < self.max_attempts then
        self:count(req.signal, "retried", req.items)
        req.not_before = now + backoff(self, req, d.retry_after)
        table.insert(self.queue, 1, req)
        self.last_error = d.error or ("HTTP " .. d.status)
      else
        self:count(req.signal, "failed", req.items)
        self.queued_bytes = self.queued_bytes - #req.body
        self.last_error = d.error or ("HTTP " .. d.status .. ": " .. BPF.printable((d.body or ""):sub(1, 200)))
      end
    end
  end
end

-- Sends what is due and reads what came back; never waits (wait: seconds
-- it may, for a final flush or a test).
function M:pump(wait)
  local now = BPF.monotonic()
  if self.spans_since and now - self.spans_since >= self.batch_delay then flush_spans(self) end
  if self.logs_since and now - self.logs_since >= self.batch_delay then flush_logs(self) end
  finished(self, self.client:poll(wait))
  local i, posted = 1, false
  while i <= #self.queue do
    local req = self.queue[i]
    if req.not_before <= now then
      local id = self.client:post(self.urls[req.signal], req.body, self.headers[req.signal], self.gzip[req.signal])
      if not id then break end -- every slot busy
      req.attempts = req.attempts + 1
      self.inflight[id] = req
      table.remove(self.queue, i)
      posted = true
    else
      i = i + 1
    end
  end
  if posted then finished(self, self.client:poll()) end
end

-- Sends everything, waiting at most `seconds`; true when nothing is left.
function M:flush(seconds)
  flush_spans(self)
  flush_logs(self)
  local deadline = BPF.monotonic() + (seconds or 5)
  repeat
    self:pump(0.05)
    if #self.queue == 0 and self:in_flight() == 0 then return true end
  until BPF.monotonic() >= deadline
  return false
end

function M:stats()
  local c = self.counts
  return {
    sent = c.sent, failed = c.failed, dropped = c.dropped, retried = c.retried, rejected = c.rejected,
    requests = c.requests, queued = #self.queue, in_flight = self:in_flight(), queued_bytes = self.queued_bytes,
    pending_spans = #self.spans, pending_logs = #self.logs, last_error = self.last_error,
  }
end

-- The exporter's own counters as metric families, in reg:collect()'s
-- shape, for /metrics (and OTLP) to show what was sent, failed (refused or
-- rejected by the collector, or given up on), dropped (the queue was full)
-- and retried, by signal.
function M:families()
  local out = {}
  local what = {
    { "sent", "Items (data points, spans, log records) the OTLP collector accepted." },
    { "failed", "Items the OTLP collector refused or rejected, or that were given up on after retries." },
    { "dropped", "Items dropped because the OTLP queue was full." },
    { "retried", "Items sent again after a retryable OTLP answer or an unreachable collector." },
  }
  for _, w in ipairs(what) do
    local series = {}
    for _, signal in ipairs({ "metrics", "traces", "logs" }) do
      local b = self.by_signal[signal]
      local v = b and b[w[1]] or 0
      if w[1] == "failed" and b then v = v + b.rejected end
      series[#series + 1] = { labels = { { "signal", signal } }, value = v }
    end
    out[#out + 1] = { name = "bpflua_otlp_" .. w[1] .. "_total", help = w[2], type = "counter", series = series }
  end
  out[#out + 1] = { name = "bpflua_otlp_queue_bytes", help = "Bytes of OTLP requests waiting or in flight.",
    type = "gauge", series = { { labels = {}, value = self.queued_bytes } } }
  return out
end

function M:close()
  self.client:close()
end
M.__close = M.close

return M
