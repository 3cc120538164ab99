-- The floor of each measured path: the same probes as the tracer under
-- test, with empty programs, so the report can say how much of a tracer's
-- cost is its own work and how much the kernel's probe machinery.
--   floor.lua stream READY            sys_enter_getppid, as stream.lua
--   floor.lua memleak READY PID [entry]  malloc entry and return, free
--                                     (as memleak, or at its entry as BCC)
--   floor.lua profile READY HZ        a perf event per CPU at HZ
-- Writes READY once attached, then waits until killed.
local what, ready = arg[1], arg[2]
local b
if what == "stream" then
  b = BPF{ text = "TRACEPOINT_PROBE(syscalls, sys_enter_getppid) { return 0; }" }
elseif what == "memleak" then
  local pid = math.tointeger(tonumber(arg[3]))
  b = BPF{ text = "int empty(struct pt_regs *ctx) { return 0; }" }
  b:attach_uprobe{ name = "c", sym = "malloc", fn_name = "empty", pid = pid }
  b:attach_uretprobe{ name = "c", sym = "malloc", fn_name = "empty", pid = pid }
  -- where memleak probes free: past the instruction the kernel would
  -- single-step (arg[4] "entry": at free's entry, where BCC probes it)
  b:attach_uprobe{ name = "c", sym = "free", fn_name = "empty", pid = pid, emulate = arg[4] ~= "entry" }
elseif what == "profile" then
  b = BPF{ text = "int empty(struct bpf_perf_event_data *ctx) { return 0; }" }
  b:attach_perf_event{ ev_type = BPF.PERF_TYPE_SOFTWARE, ev_config = BPF.PERF_COUNT_SW_CPU_CLOCK,
                       fn_name = "empty", sample_freq = math.tointeger(tonumber(arg[3])), pid = -1, cpu = -1 }
else
  error("floor.lua: stream, memleak or profile, not " .. tostring(what))
end
io.open(ready, "w"):close()
while BPF.sleep(1) do end
