-- bpflua agent's configuration (bpflua agent --config FILE): a Lua file
-- returning a table. Check it with `bpflua agent --config FILE --check`;
-- reload with `systemctl reload bpflua` (SIGHUP): counters are kept. The
-- OTLP endpoint and resource come from the environment
-- (OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES),
-- under systemd from /etc/default/bpflua. The values below are the defaults.
return {
  enable_cpu_profiling = true,
  sample_rate = 99,            -- profile samples per second per CPU
  max_samples = 100000,        -- profile samples kept per interval
  enable_syscall_tracing = true,
  enable_network_tracing = true,
  -- memory tracing costs every allocation of its target: name one to enable
  -- it, memory = { pid = N } or memory = { comm = "name" }
  enable_memory_tracing = false,
  interval = 10,               -- seconds between OTLP exports
  max_series = 1000,           -- series per metric family; the rest are counted as dropped
  ring_buffer_pages = 512,     -- 4 KiB pages of each event stream (TCP, HTTP)
  -- listen = "127.0.0.1:9435",  -- /metrics and /debug/pprof (also --listen)
  -- otlp_endpoint = "http://127.0.0.1:4318", -- also --otlp, OTEL_EXPORTER_OTLP_ENDPOINT
  -- service_name = "bpflua",  -- OTLP service.name (also OTEL_SERVICE_NAME)
  -- duration = 3600,          -- stop after this many seconds (default: until stopped)
  syscalls = {
    latency = true,            -- a latency histogram per syscall
    -- comm = "nginx", pid = 1234: only that process
  },
  network = {
    tcp = true, udp = true, http = true,
    tls = true,                -- HTTPS through OpenSSL uprobes
    -- pid = 1234, port = 443: only that process, that port
  },
  profile = {
    stack_storage = 8192,      -- stack ids each of the two stack maps holds
    idle = false,              -- the idle task's samples too
    -- pid = 1234
  },
  memory = {
    -- pid = 1234, or comm = "name"
  },
  -- metrics declared from BPF maps (exporters/ or a path), e.g.
  -- exporters = { "runq_latency", "bio_latency" },
  exporters = {},
}
