-- bpflua agent: the tracers together on one event loop, their counts in one
-- metrics registry, served as Prometheus text on /metrics, CPU profiles in
-- pprof format on /debug/pprof/profile, and pushed to an OTLP collector
-- when one is named. SIGHUP reloads the config; counters carry on.
local config = require("bpflua.agent.config")
local sources = require("bpflua.agent.sources")
local events = require("bpflua.events")
local exporter = require("bpflua.exporter")
local metrics = require("bpflua.metrics")
local prometheus = require("bpflua.prometheus")
local pprof = require("bpflua.pprof")

local M = {}

local USAGE = [[usage: bpflua agent [--config FILE.lua] [--listen ADDR:PORT] [--otlp URL] [--check]

Runs the CPU profiler, the network, syscall and (for one process) memory
tracers together and exports what they count:
  http://ADDR:PORT/metrics                  Prometheus text format 0.0.4
  http://ADDR:PORT/debug/pprof/profile?seconds=N   a CPU profile (gzipped pprof)
  --otlp URL (or OTEL_EXPORTER_OTLP_ENDPOINT)      OTLP/HTTP metrics, spans, logs

options:
  --config FILE.lua   a Lua file returning the settings (sample_rate, duration,
                      max_samples, interval, max_series, enable_cpu_profiling,
                      enable_network_tracing, enable_syscall_tracing,
                      enable_memory_tracing with memory = { pid = N | comm = "name" },
                      syscalls = {...}, network = {...}, profile = {...},
                      exporters = { "runq_latency", ... })
  --listen ADDR:PORT  where to serve (default 127.0.0.1:9435; port 0: any free one)
  --otlp URL          an OTLP/HTTP collector's base URL
  --check             check the config (and the exporters it names) and exit
  -h, --help          this help
SIGHUP reloads the config file without losing counters.]]

local PPROF_MAX_SECONDS = 300
local FLUSH_SECONDS = 3

-- The event rings are drained in batches: every drain finds the reader's
-- code and data cold again, and at 500 HTTP requests a second (bench/
-- agent.sh, all four tracers) draining every 50 ms cost 1.55% of a core,
-- every 200 ms 0.8-1.0%, every 500 ms 0.70-0.73%. So the loop looks every
-- LOOK_MS, but drains a ring only once it is DRAIN_FILL full or DRAIN_MAX_MS
-- have passed, and always for a scrape or an export: a flood is drained
-- as often as it needs, a steady load rarely.
local LOOK_MS, DRAIN_MAX_MS, DRAIN_FILL = 100, 1000, 0.25

local function usage_error(msg)
  error(BPF.error("usage", "agent: " .. msg .. "\n(bpflua agent --help lists the options)"), 0)
end

local function parse(argv)
  local a = {}
  local i = 1
  while i <= #argv do
    local s = argv[i]
    if s == "-h" or s == "--help" then return nil end
    if s == "--check" then
      a.check = true
      i = i + 1
      goto continue
    end
    local name, inline = s:match("^%-%-([%w-]+)=(.*)$")
    name = name or s:match("^%-%-([%w-]+)$")
    if name ~= "config" and name ~= "listen" and name ~= "otlp" then
      usage_error(s:sub(1, 1) == "-" and ("unknown option " .. s) or ("unexpected argument '" .. s .. "'"))
    end
    local v = inline
    if v == nil then
      i = i + 1
      v = argv[i]
      if v == nil then usage_error("--" .. name .. " needs a value") end
    end
    a[name] = v
    i = i + 1
    ::continue::
  end
  return a
end

---------------------------------------------------------------- self metrics
local function read(path)
  local f = io.open(path, "r")
  if not f then return nil end
  local s = f:read("a")
  f:close()
  return s
end

local CLK_TCK = 100 -- /proc's USER_HZ: fixed at 100 in the kernel's ABI

local function self_metrics(reg)
  local fam = {
    cpu = reg:counter{ name = "process_cpu_seconds_total", help = "Total user and system CPU time spent in seconds." },
    rss = reg:gauge{ name = "process_resident_memory_bytes", help = "Resident memory size in bytes." },
    vsz = reg:gauge{ name = "process_virtual_memory_bytes", help = "Virtual memory size in bytes." },
    start = reg:gauge{ name = "process_start_time_seconds", help = "Start time of the process since unix epoch in seconds." },
    fds = reg:gauge{ name = "process_open_fds", help = "Number of open file descriptors." },
    max_fds = reg:gauge{ name = "process_max_fds", help = "Maximum number of open file descriptors." },
  }
  local btime = tonumber((read("/proc/stat") or ""):match("\nbtime (%d+)")) or 0
  return function()
    local stat = read("/proc/self/stat") or ""
    -- fields after the command (which may hold spaces and parentheses)
    local rest = stat:match("^.*%) (.*)$") or ""
    local f = {}
    for x in rest:gmatch("%S+") do f[#f + 1] = x end
    -- rest starts at field 3 (state): utime 14, stime 15, starttime 22, vsize 23, rss 24
    local n = function(field) return tonumber(f[field - 2]) or 0 end
    fam.cpu:set({}, (n(14) + n(15)) / CLK_TCK)
    fam.vsz:set({}, n(23))
    local statm = read("/proc/self/statm") or ""
    local pages = tonumber(statm:match("^%d+ (%d+)")) or 0
    fam.rss:set({}, pages * 4096)
    fam.start:set({}, btime + n(22) / CLK_TCK)
    fam.fds:set({}, #(BPF.listdir("/proc/self/fd") or {}))
    local limits = read("/proc/self/limits") or ""
    local soft = limits:match("Max open files%s+(%d+)")
    if soft then fam.max_fds:set({}, tonumber(soft)) end
  end
end

---------------------------------------------------------------- the agent
local Agent = {}
Agent.__index = Agent

-- every source the config asks for, or nothing: one that fails to start
-- stops those started before it, and the error says which
function Agent:start_sources(cfg)
  local list = {}
  events.ring_pages(cfg.ring_buffer_pages)
  local ok, err = pcall(function()
    local function add(name, src) list[#list + 1] = { name = name, src = src } end
    if cfg.enable_syscall_tracing then add("syscalls", sources.syscalls(self.reg, cfg, self.ctx)) end
    if cfg.enable_cpu_profiling then add("profile", sources.cpu(self.reg, cfg, self.ctx)) end
    if cfg.enable_network_tracing then
      for _, p in ipairs(sources.network(self.reg, cfg, self.ctx)) do add(p[1], p[2]) end
    end
    if cfg.enable_memory_tracing then add("memory", sources.memory(self.reg, cfg, self.ctx)) end
    for _, name in ipairs(cfg.exporters) do add(name, exporter.source(exporter.load(name), self.reg)) end
  end)
  if not ok then
    for _, s in ipairs(list) do pcall(s.src.close) end
    error(err, 0)
  end
  return list
end

function Agent:collect()
  for _, s in ipairs(self.sources) do
    s.src.collect()
    local lost = s.src.lost()
    -- every tracer has its series, zero until it loses something
    self.lost:add({ s.name }, self.lost_deltas:grow(s.name .. "#" .. self.generation, lost))
  end
  self.self_metrics()
  local families = self.reg:collect()
  -- the exporter's own counts (sent, failed, dropped, retried) beside them
  if self.exp and self.exp.families then
    for _, f in ipairs(self.exp:families()) do families[#families + 1] = f end
  end
  return families
end

function Agent:stop_sources()
  -- their last counts first: a reload loses nothing counted so far
  pcall(self.collect, self)
  for _, s in ipairs(self.sources) do pcall(s.src.close) end
  self.sources = {}
  collectgarbage()
end

function Agent:note(msg)
  io.stderr:write("bpflua agent: ", msg, "\n")
end

function Agent:reload()
  if not self.config_path then
    self:note("SIGHUP: no --config file to reload")
    return
  end
  local ok, cfg = pcall(config.load, self.config_path)
  if ok then
    for _, name in ipairs(cfg.exporters) do
      local ok2, err = pcall(exporter.load, name)
      if not ok2 then ok, cfg = false, err break end
    end
  end
  if not ok then
    self:note("SIGHUP: the config is not reloaded, the old one stays: " .. tostring(cfg))
    return
  end
  if self.listen_arg then cfg.listen = self.listen_arg end
  self:stop_sources()
  self.generation = self.generation + 1
  local started, err = pcall(self.start_sources, self, cfg)
  if not started then
    self.generation = self.generation + 1
    local again, err2 = pcall(self.start_sources, self, self.cfg)
    self.sources = again and err2 or {}
    self:note("SIGHUP: " .. tostring(err) .. (again and "; the old config runs again"
      or ("; the old config cannot start either (" .. tostring(err2) .. "): nothing is traced until the next SIGHUP")))
    return
  end
  self.sources = err
  if cfg.listen ~= self.cfg.listen then
    local okl, srv = pcall(BPF.httpd, { listen = cfg.listen })
    if okl then
      self.srv:close()
      self.srv = srv
    else
      self:note("SIGHUP: " .. tostring(srv) .. "; still serving on " .. self.cfg.listen)
      cfg.listen = self.cfg.listen
    end
  end
  self.cfg = cfg
  self:note(string.format("reloaded %s (%d sources)", self.config_path, #self.sources))
end

-- Polls every source: those with a ring (fill) when forced, when one of
-- them is DRAIN_FILL full or when DRAIN_MAX_MS have passed; the others
-- (their own timers) every time.
function Agent:drain(force)
  local now = BPF.monotonic()
  local due = force or now - (self.last_drain or 0) >= DRAIN_MAX_MS / 1000
  for _, s in ipairs(self.sources) do
    if due then break end
    if s.src.fill then
      local fill = s.src.fill()
      -- a perf buffer (before 5.8) says nothing of its fill: read every look
      due = fill == nil or fill >= DRAIN_FILL
    end
  end
  if due then self.last_drain = now end
  for _, s in ipairs(self.sources) do
    if due or not s.src.fill then s.src.poll() end
  end
end

function Agent:serve(r)
  local srv = self.srv
  if r.method ~= "GET" and r.method ~= "HEAD" then
    return srv:respond(r.id, 405, "text/plain", "only GET\n")
  end
  if r.path == "/metrics" then
    self:drain(true) -- a scrape sees every event until now, not until the last drain
    return srv:respond(r.id, 200, prometheus.CONTENT_TYPE, prometheus.render(self:collect()))
  elseif r.path == "/debug/pprof/profile" then
    if not self.cfg.enable_cpu_profiling then
      return srv:respond(r.id, 503, "text/plain", "CPU profiling is off (enable_cpu_profiling = false)\n")
    end
    local secs = tonumber(r.query.seconds or "30")
    if not secs or secs <= 0 or secs > PPROF_MAX_SECONDS or secs ~= secs then
      return srv:respond(r.id, 400, "text/plain",
        string.format("seconds: a number from 1 to %d\n", PPROF_MAX_SECONDS))
    end
    self.pending[#self.pending + 1] = { id = r.id, deadline = BPF.monotonic() + secs, agg = {},
                                        start_ns = BPF.realtime_ns() }
    return
  elseif r.path == "/" then
    return srv:respond(r.id, 200, "text/plain", "bpflua agent\n/metrics\n/debug/pprof/profile?seconds=N\n")
  end
  return srv:respond(r.id, 404, "text/plain", "not found\n")
end

-- stacks a profile drain brought: into every profile still being taken
function Agent:on_stacks(list)
  for _, p in ipairs(self.pending) do
    for _, s in ipairs(list) do
      local key = s.comm .. "\0" .. table.concat(s.user, ";") .. "\0" .. table.concat(s.kips, ",")
      local e = p.agg[key]
      if e then e.count = e.count + s.count else p.agg[key] = { comm = s.comm, user = s.user, kips = s.kips, count = s.count } end
    end
  end
end

function Agent:finish_profiles(now)
  local keep = {}
  for _, p in ipairs(self.pending) do
    if now >= p.deadline then
      -- kernel frames named now, in one pass for the whole profile
      local ips = {}
      for _, s in pairs(p.agg) do for _, ip in ipairs(s.kips) do ips[ip] = true end end
      local names = sources.kernel_names(ips)
      local list = {}
      for _, s in pairs(p.agg) do
        local kernel = {}
        for i, ip in ipairs(s.kips) do kernel[i] = names[ip] end
        list[#list + 1] = { comm = s.comm, user = s.user, kernel = kernel, count = s.count }
      end
      table.sort(list, function(a, b) return a.count > b.count end)
      local body = pprof.encode(list, { frequency = self.cfg.sample_rate, time_ns = p.start_ns,
                                        duration_ns = BPF.realtime_ns() - p.start_ns })
      self.srv:respond(p.id, 200, "application/octet-stream", body)
    else
      keep[#keep + 1] = p
    end
  end
  self.pending = keep
end

function Agent:loop()
  -- nearly everything made per event dies young (payloads, records):
  -- generational collection cost 13% less of the agent's CPU than the
  -- incremental kind under bench/agent.sh's load
  collectgarbage("generational")
  local start = BPF.monotonic()
  local last_export = start
  while true do
    local now = BPF.monotonic()
    local wait = LOOK_MS
    for _, p in ipairs(self.pending) do wait = math.min(wait, math.max(0, math.floor((p.deadline - now) * 1000))) end
    if self.cfg.duration then wait = math.min(wait, math.max(0, math.floor((start + self.cfg.duration - now) * 1000))) end
    for _, r in ipairs(self.srv:poll(wait)) do self:serve(r) end
    self:drain()
    now = BPF.monotonic()
    if #self.pending > 0 then self:finish_profiles(now) end
    if BPF.hup() then self:reload() end
    if self.exp then
      if now - last_export >= self.cfg.interval then
        last_export = now
        self:drain(true)
        self.exp:export_metrics(self:collect(), self.reg.start_time_ns, BPF.realtime_ns())
      end
      self.exp:pump()
    end
    if BPF.interrupted() then break end
    if self.cfg.duration and now - start >= self.cfg.duration then break end
  end
  if self.exp then
    self:drain(true)
    self.exp:export_metrics(self:collect(), self.reg.start_time_ns, BPF.realtime_ns())
    -- a collector that is down holds the exit up this long at most
    if self.exp.flush then self.exp:flush(FLUSH_SECONDS) else self.exp:pump() end
  end
end

local function otlp_exporter(endpoint, cfg)
  local ok, mod = pcall(require, "bpflua.otlp")
  if not ok then
    error(BPF.error("missing", "--otlp " .. endpoint .. ": this bpflua has no OTLP exporter (lua/bpflua/otlp.lua): "
      .. (tostring(mod):match("^[^\n]*"):gsub(":%s*$", ""))), 0)
  end
  -- service.name: the config's, else OTEL_SERVICE_NAME, else the one in
  -- OTEL_RESOURCE_ATTRIBUTES, else "bpflua" (otlp.new's order)
  return mod.new{ endpoint = endpoint, service_name = cfg.service_name }
end

-- argv: the words after `agent`; embed (for Lua callers): exporter = an
-- object with the OTLP exporter's methods, used instead of --otlp
function M.main(argv, embed)
  embed = embed or {}
  local a = parse(argv)
  if not a then
    print(USAGE)
    return 0
  end
  local cfg = a.config and config.load(a.config) or config.defaults()
  if a.listen then cfg.listen = a.listen end
  for _, name in ipairs(cfg.exporters) do exporter.load(name) end -- checked before anything starts
  local endpoint = a.otlp or cfg.otlp_endpoint or os.getenv("OTEL_EXPORTER_OTLP_ENDPOINT")
  if endpoint == "" then endpoint = nil end
  if a.check then
    -- the exporter's settings too (OTEL_*: endpoint, protocol, headers,
    -- timeout, certificates): made and closed, nothing sent
    if endpoint and not embed.exporter then otlp_exporter(endpoint, cfg):close() end
    print(string.format("%s: ok", a.config or "(defaults)"))
    return 0
  end
  local self = setmetatable({ cfg = cfg, config_path = a.config, listen_arg = a.listen, pending = {},
                              generation = 0, lost_deltas = metrics.deltas() }, Agent)
  self.exp = embed.exporter or (endpoint and otlp_exporter(endpoint, cfg))
  self.reg = metrics.new{ max_series = cfg.max_series }
  self.lost = self.reg:counter{ name = "bpflua_events_lost_total", labels = { "tracer" },
                                help = "Events a tracer's buffer could not hold" }
  self.self_metrics = self_metrics(self.reg)
  self.ctx = { exporter = self.exp, on_stacks = function(list) self:on_stacks(list) end,
               wants_stacks = function() return #self.pending > 0 end }
  self.srv = BPF.httpd{ listen = cfg.listen }
  BPF.graceful_stop(true)
  BPF.reload_on_hup()
  self.sources = self:start_sources(cfg)
  local host = cfg.listen:match("^(.*):%d+$")
  self:note(string.format("serving http://%s:%d/metrics and /debug/pprof/profile (%d sources)%s", host,
    self.srv:port(), #self.sources, endpoint and (", exporting to " .. endpoint) or ""))
  local ok, err = pcall(self.loop, self)
  self:stop_sources()
  self.srv:close()
  if not ok then error(err, 0) end
  return 0
end

return M
