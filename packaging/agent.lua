-- bpflua agent's configuration (bpflua agent --config FILE): a Lua file
-- returning a table. Reload with `systemctl reload bpflua` (SIGHUP):
-- counters are kept. The OTLP endpoint and resource come from the
-- environment (OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_SERVICE_NAME,
-- OTEL_RESOURCE_ATTRIBUTES), under systemd from /etc/default/bpflua.
return {
  enable_cpu_profiling = true,
  sample_rate = 99,            -- profile samples per second per CPU
  enable_syscall_tracing = true,
  enable_network_tracing = true,
  -- memory tracing costs every allocation of its target: name one to enable it
  enable_memory_tracing = false,
}
