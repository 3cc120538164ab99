-- What the agent traces, each a source over an existing tracer's probe or
-- the tracer itself (scripts/*.lua run with an output that turns their
-- records into metrics): syscalls, the CPU profile, the network (TCP
-- sessions, UDP, HTTP and gRPC), one process's memory.
--
-- A source: start(reg, cfg, ctx) -> { poll = f() (never blocks),
-- collect = f() (the registry brought up to date), lost = f() -> n,
-- close = f() }. Counts read from kernel maps are running totals; they
-- reach the registry through metrics.deltas, so a source restarted by a
-- reload carries its counters on where they were.
local metrics = require("bpflua.metrics")
local probe = require("bpflua.probe")
local tracer = require("bpflua.tracer")

local M = {}

local function noop() end

-- An output for a tracer run inside the agent: records go to on_record,
-- tables to on_table, everything else (notes, text) nowhere.
local function sink(on_record, on_table)
  return { format = "json", note = noop, header = noop, text = noop, write = noop, flush = noop, close = noop,
           record = function(_, row) if on_record then on_record(row) end end,
           table = function(_, rows) if on_table then on_table(rows) end end }
end

local function load_tracer(name)
  local path = tracer.find(name)
  if not path then error(BPF.error("missing", "the agent needs the tracer " .. name .. ", which is not installed")) end
  return tracer.load(path)
end

local sum, sum_lat = require("bpflua.percpu").sum, require("bpflua.percpu").sum_lat

---------------------------------------------------------------- syscalls
-- probes/syscount.c by syscall: counts at entry, errors by errno, and with
-- latency a log2 histogram of microseconds and the exact sum in ns.
function M.syscalls(reg, cfg)
  local sc = cfg.syscalls
  local HIST_SLOTS = probe.constants("syscount.h").HIST_SLOTS
  local b = probe.load("syscount", {
    FILTER_COMM = sc.comm and ('"' .. sc.comm .. '"'), ERRORS = true,
    LATENCY = sc.latency, HIST = sc.latency,
  }, { filter_pid = sc.pid, exclude_pid = BPF.getpid() })
  local calls = reg:counter{ name = "bpflua_syscalls_total", labels = { "syscall" },
                             help = "System calls made, by syscall (counted at entry)" }
  local errors = reg:counter{ name = "bpflua_syscall_errors_total", labels = { "syscall", "errno" },
                              help = "System calls that failed, by syscall and errno" }
  -- syscount's slots are bpf_log2l(microseconds): slot k holds up to 2^k - 1 us
  local lat = sc.latency and reg:histogram{ name = "bpflua_syscall_duration_seconds", labels = { "syscall" },
    help = "System call latency, from entry to exit", unit_scale = 1e-6, overflow_slot = HIST_SLOTS - 1 }
  local t_counts, t_errors = b:get_table("counts"), b:get_table("errors")
  local n_counts = t_counts:info().max_entries
  local t_lat = sc.latency and b:get_table("latency")
  local t_hist = sc.latency and b:get_table("hist")
  local d = metrics.deltas()
  return {
    poll = noop, lost = function() return 0 end,
    close = function() b:cleanup() end,
    collect = function()
      -- the per-syscall arrays a batch each (t:range), not an entry each
      local rows, counts = {}, t_counts:range(0, n_counts)
      for i, v in ipairs(counts) do
        local n = sum(v)
        if n > 0 then rows[#rows + 1] = { nr = i - 1, n = n } end
      end
      table.sort(rows, function(x, y) return x.n > y.n end) -- the largest first: they win the series cap
      for _, r in ipairs(rows) do
        local grew = d:grow("c" .. r.nr, r.n)
        local name = BPF.syscall_name(r.nr)
        if grew > 0 then calls:add({ name }, grew) end
        if lat then
          local c, ns = sum_lat(t_lat:get(r.nr))
          local dc, dns = d:grow("lc" .. r.nr, c), d:grow("ln" .. r.nr, ns)
          if dc > 0 then
            local slots = {}
            for k, v in ipairs(t_hist:range(r.nr * HIST_SLOTS, HIST_SLOTS)) do
              local grown = d:grow("h" .. r.nr .. ":" .. (k - 1), sum(v))
              if grown > 0 then slots[k - 1] = grown end
            end
            -- the buckets are the count: a call between the two reads shows next time
            lat:observe_log2({ name }, slots, dns / 1000)
          end
        end
      end
      for k, v in t_errors:items() do
        local grew = d:grow("e" .. k.key .. ":" .. k.err, v)
        if grew > 0 then errors:add({ BPF.syscall_name(k.key), BPF.errno_name(k.err) }, grew) end
      end
    end,
  }
end

---------------------------------------------------------------- CPU profile
-- scripts/profile.lua's probe, its two halves drained here every quarter
-- second. Samples are counted by command; stacks are resolved only while
-- someone waits for a pprof profile, and handed on. Kernel frames do not
-- go through libbcc's table of kallsyms (13 MB, held): the addresses a
-- profile needs are looked up in one pass over /proc/kallsyms when it is
-- served, and their names kept (KSYMS_KEEP at most); user frames go through
-- the processes' own tables, given back SYMBOLS_KEEP s after the last profile.
local DRAIN_EVERY = 0.25
local SYMBOLS_KEEP = 60
local KSYMS_KEEP = 16384

local function frame_name(s)
  return (s:gsub(";", ":"))
end

-- { ip = true } -> { ip = name }: the nearest text symbol at or below each
-- ip. One pass, whatever the file's order: a symbol at a is the best yet
-- for the first ip at or above it, and an ip with nothing between it and
-- the one below shares that one's symbol.
local function kallsyms(want)
  local ips = {}
  for ip in pairs(want) do ips[#ips + 1] = ip end
  table.sort(ips, math.ult)
  local best, name = {}, {}
  local f = io.open("/proc/kallsyms", "r")
  if f then
    local lines = 0
    for line in f:lines() do
      lines = lines + 1
      -- some 100k short strings: collected as they go, not all at the end
      if lines % 4096 == 0 then collectgarbage("step", 64) end
      local hex, sym = line:match("^(%x+) [tTwW] (%S+)")
      local a = hex and math.tointeger(tonumber(hex, 16))
      if a and a ~= 0 then
        local lo, hi = 1, #ips + 1
        while lo < hi do
          local mid = (lo + hi) // 2
          if math.ult(ips[mid], a) then lo = mid + 1 else hi = mid end
        end
        if lo <= #ips and (not best[lo] or math.ult(best[lo], a)) then best[lo], name[lo] = a, sym end
      end
    end
    f:close()
  end
  local out = {}
  for i, ip in ipairs(ips) do
    if i > 1 and best[i - 1] and (not best[i] or math.ult(best[i], best[i - 1])) then
      best[i], name[i] = best[i - 1], name[i - 1]
    end
    out[ip] = name[i] or "[unknown]"
  end
  return out
end

M.kallsyms = kallsyms

-- names for a profile's kernel frames, "name_[k]" as profile.lua has them:
-- one pass over /proc/kallsyms for those not named yet, once per profile
local knames, nknames = {}, 0
function M.kernel_names(ips)
  local unknown = {}
  for ip in pairs(ips) do if not knames[ip] then unknown[ip] = true end end
  if next(unknown) then
    if nknames > KSYMS_KEEP then knames, nknames = {}, 0 end
    for ip, name in pairs(kallsyms(unknown)) do
      knames[ip] = frame_name(name) .. "_[k]"
      nknames = nknames + 1
    end
  end
  local out = {}
  for ip in pairs(ips) do out[ip] = knames[ip] or "[unknown]_[k]" end
  return out
end

function M.cpu(reg, cfg, ctx)
  local decl = load_tracer("profile")
  local opts = { frequency = cfg.sample_rate, max_samples = cfg.max_samples, stack_storage = cfg.profile.stack_storage,
                 idle = cfg.profile.idle, pid = cfg.profile.pid, top = 0, format = "text", out = sink() }
  local st = decl.init(opts)
  local samples = reg:counter{ name = "bpflua_cpu_samples_total", labels = { "comm" },
                               help = "CPU profile samples taken, by command" }
  local last_reset, last_drain = BPF.monotonic(), BPF.monotonic()
  local resolved -- when stacks were last resolved (user symbol tables loaded), or nil

  -- the half the samples are not going to (profile.lua's switch); when
  -- stacks are wanted, { comm, pid, count, user = names, kips = kernel
  -- addresses } (innermost first): kernel names come once per profile
  -- (M.kernel_names), user names now, while the processes are there
  local function drain(want_stacks)
    local h = st.halves[st.half + 1]
    st.half = 1 - st.half
    st.active:set(0, st.half)
    BPF.sleep(0.001) -- a sample that saw the old half is done long before
    local list, users = {}, {}
    for k, n in h.counts:items() do
      samples:add({ k.comm }, n)
      if want_stacks then
        local user = {}
        if k.user_stack >= 0 then
          local key = k.pid .. ":" .. k.user_stack
          user = users[key]
          if not user then
            user = {}
            for ip in h.stacks:walk(k.user_stack) do user[#user + 1] = frame_name(st.b:sym(ip, k.pid)) end
            users[key] = user
          end
        elseif k.user_stack ~= -BPF.EFAULT then
          user = { "[lost stack]" } -- -EFAULT is a kernel thread; anything else found no room in the map
        end
        local kips = {}
        if k.kernel_stack >= 0 then
          for ip in h.stacks:walk(k.kernel_stack) do kips[#kips + 1] = ip end
        end
        list[#list + 1] = { comm = k.comm, pid = k.pid, count = n, user = user, kips = kips }
      end
    end
    h.counts:clear()
    h.stacks:clear()
    if #list == 0 then return end
    BPF.sym_trim()
    if ctx.on_stacks then ctx.on_stacks(list) end
  end

  return {
    poll = function()
      local now = BPF.monotonic()
      local want = ctx.wants_stacks == nil or ctx.wants_stacks()
      if want then
        resolved = now
      elseif resolved and now - resolved >= SYMBOLS_KEEP then
        BPF.sym_flush()
        resolved = nil
      end
      if now - last_drain >= DRAIN_EVERY then
        last_drain = now
        drain(want)
      end
      -- max_samples is a budget per interval: the kernel stops at it
      if now - last_reset >= cfg.interval then
        st.total:set(0, 0)
        last_reset = now
      end
    end,
    collect = noop, lost = function() return 0 end,
    close = function() st.b:cleanup() end,
  }
end

---------------------------------------------------------------- network
local function us(ms) return math.floor(ms * 1000 + 0.5) end

-- scripts/tcplife.lua: a record per closed session
local function tcp(reg, cfg, ctx)
  local decl = load_tracer("tcplife")
  local sessions = reg:counter{ name = "bpflua_tcp_sessions_total", labels = { "comm" },
                                help = "TCP sessions closed, by command" }
  local bytes = reg:counter{ name = "bpflua_tcp_bytes_total", labels = { "comm", "direction" },
                             help = "Bytes of closed TCP sessions, by command and direction (sent, received)" }
  local opts = { pid = cfg.network.pid, port = cfg.network.port, format = "json" }
  opts.out = sink(function(r)
    sessions:add({ r.comm }, 1)
    bytes:add({ r.comm, "sent" }, r.tx_bytes)
    bytes:add({ r.comm, "received" }, r.rx_bytes)
    if ctx.exporter then
      -- the kernel's timestamps where the decoder kept them
      local now = r.end_ts and require("bpflua.otlp").wall_ns(r.end_ts) or BPF.realtime_ns()
      ctx.exporter:log{ time_ns = now, body = "tcp session",
        attributes = { ["process.pid"] = r.pid, ["process.command"] = r.comm, ["network.local.address"] = r.laddr,
                       ["network.local.port"] = r.lport, ["network.peer.address"] = r.raddr,
                       ["network.peer.port"] = r.rport, ["bpflua.tcp.tx_bytes"] = r.tx_bytes,
                       ["bpflua.tcp.rx_bytes"] = r.rx_bytes, ["bpflua.tcp.duration_ms"] = r.duration_ms } }
    end
  end)
  local st = decl.init(opts)
  return { poll = function() decl.poll(st, opts, 0) end, lost = function() return st.reader:lost() end,
           fill = function() return st.reader:fill() end, close = function() st.b:cleanup() end, collect = noop }
end

-- probes/udp.c's stats map (through scripts/udp.lua's init): running totals
-- per process, direction and remote endpoint
local function udp(reg, cfg)
  local decl = load_tracer("udp")
  local st = decl.init({ pid = cfg.network.pid, out = sink() })
  local datagrams = reg:counter{ name = "bpflua_udp_datagrams_total", labels = { "comm", "direction" },
                                 help = "UDP datagrams, by command and direction (sent, received)" }
  local bytes = reg:counter{ name = "bpflua_udp_bytes_total", labels = { "comm", "direction" },
                             help = "UDP payload bytes, by command and direction (sent, received)" }
  local d = metrics.deltas()
  return {
    poll = noop, lost = function() return 0 end, close = function() st.b:cleanup() end,
    collect = function()
      for k, v in st.stats:items() do
        -- network.port: datagrams to or from that remote port
        if cfg.network.port and not (k.family ~= 0 and k.port == cfg.network.port) then goto next end
        local key = table.concat({ k.pid, k.comm, k.dir, k.family, BPF.printable(tostring(k.addr)), k.port }, "\0")
        local dir = k.dir == 0 and "sent" or "received"
        local dd, db = d:grow(key .. "d", v.datagrams), d:grow(key .. "b", v.bytes)
        if dd > 0 then datagrams:add({ k.comm, dir }, dd) end
        if db > 0 then bytes:add({ k.comm, dir }, db) end
        ::next::
      end
    end,
  }
end

-- scripts/http.lua: a record per request, either side; durations in the
-- OpenTelemetry semantic conventions' names as Prometheus spells them
local function http(reg, cfg, ctx)
  local decl = load_tracer("http")
  local HTTP_LABELS = { "http_request_method", "http_response_status_code" }
  local RPC_LABELS = { "rpc_service", "rpc_method", "rpc_grpc_status_code" }
  local function hist(name, labels, help)
    return reg:histogram{ name = name, labels = labels, help = help, unit_scale = 1e-6 }
  end
  local fam = {
    server = hist("http_server_request_duration_seconds", HTTP_LABELS, "Duration of HTTP server requests"),
    client = hist("http_client_request_duration_seconds", HTTP_LABELS, "Duration of HTTP client requests"),
    rpc_server = hist("rpc_server_duration_seconds", RPC_LABELS, "Duration of gRPC server calls"),
    rpc_client = hist("rpc_client_duration_seconds", RPC_LABELS, "Duration of gRPC client calls"),
  }
  local opts = { pid = cfg.network.pid, port = cfg.network.port, side = "both", no_tls = not cfg.network.tls,
                 format = "json" }
  opts.out = sink(function(r)
    -- a request's duration runs to its response's last byte where that
    -- was seen (OpenTelemetry's http.*.request.duration)
    local t = us(r.total_ms or r.latency_ms)
    local grpc = r.protocol == "grpc"
    if grpc then
      local service, method = tostring(r.path or ""):match("^/([^/]*)/([^/]*)$")
      fam["rpc_" .. r.side]:observe({ service or "", method or "", tostring(r.grpc_status or "") }, t)
    else
      -- the values as they come (the status an integer): the registry
      -- makes them text once per series, not per request
      fam[r.side]:observe({ r.method or "", r.status or "" }, t)
    end
    if ctx.exporter then
      local now = BPF.realtime_ns()
      local attrs = { ["http.request.method"] = r.method, ["url.path"] = r.path,
                      ["http.response.status_code"] = tonumber(r.status), ["network.protocol.name"] = r.protocol,
                      ["process.pid"] = r.pid, ["process.command"] = r.comm }
      if grpc then attrs["rpc.system"], attrs["rpc.grpc.status_code"] = "grpc", r.grpc_status end
      local failed = grpc and (r.grpc_status or 0) ~= 0 or (tonumber(r.status) or 0) >= (r.side == "server" and 500 or 400)
      ctx.exporter:span{ name = grpc and tostring(r.path) or tostring(r.method), kind = r.side,
                         start_ns = now - t * 1000, end_ns = now, attributes = attrs,
                         status_code = failed and "error" or nil }
    end
  end)
  local st = decl.init(opts)
  return { poll = function() decl.poll(st, opts, 0) end, lost = function() return st.reader:lost() end,
           fill = function() return st.reader:fill() end, close = function() st.b:cleanup() end, collect = noop }
end

function M.network(reg, cfg, ctx)
  local parts = {}
  if cfg.network.tcp then parts[#parts + 1] = { "tcp", tcp(reg, cfg, ctx) } end
  if cfg.network.udp then parts[#parts + 1] = { "udp", udp(reg, cfg, ctx) } end
  if cfg.network.http then parts[#parts + 1] = { "http", http(reg, cfg, ctx) } end
  return parts
end

---------------------------------------------------------------- memory
local function pid_of_comm(name)
  for _, d in ipairs(BPF.listdir("/proc") or {}) do
    if d:match("^%d+$") then
      local f = io.open("/proc/" .. d .. "/comm", "r")
      local c = f and f:read("l")
      if f then f:close() end
      if c == name and tonumber(d) ~= BPF.getpid() then return tonumber(d) end
    end
  end
end

-- scripts/memleak.lua's probe, on one process: what it holds, allocated and freed
function M.memory(reg, cfg)
  local pid = cfg.memory.pid or pid_of_comm(cfg.memory.comm)
  if not pid or not tracer.alive(pid) then
    error(BPF.error("missing", cfg.memory.pid and string.format("memory: no process %d", pid)
      or string.format("memory: no process named %s", cfg.memory.comm)))
  end
  local f = io.open("/proc/" .. pid .. "/comm", "r")
  local comm = f and f:read("l") or "?"
  if f then f:close() end
  local decl = load_tracer("memleak")
  local opts = { pid = pid, min_age = 0, top = 0, out = sink() }
  local st = decl.init(opts)
  local held = reg:gauge{ name = "bpflua_memory_outstanding_bytes", labels = { "pid", "comm" },
                          help = "Bytes the traced process allocated and has not freed (malloc and friends, mmap)" }
  local allocs = reg:counter{ name = "bpflua_memory_allocations_total", labels = { "pid", "comm" },
                              help = "Allocations by the traced process" }
  local frees = reg:counter{ name = "bpflua_memory_frees_total", labels = { "pid", "comm" },
                             help = "Frees by the traced process" }
  local d = metrics.deltas()
  local labels = { pid, comm }
  return {
    poll = noop, lost = function() return 0 end,
    close = function() held:remove(labels); st.b:cleanup() end,
    collect = function()
      local bytes = 0
      for _, c in st.combined:items() do if c.count > 0 then bytes = bytes + c.bytes end end
      held:set(labels, bytes)
      local a, fr = d:grow("a", st.totals:get(0) or 0), d:grow("f", st.totals:get(1) or 0)
      if a > 0 then allocs:add(labels, a) end
      if fr > 0 then frees:add(labels, fr) end
    end,
  }
end

return M
