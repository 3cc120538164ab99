-- bpflua side of the streaming benchmark: one event per getppid() of the
-- process named bl_benchload, through the path given as arg[1]:
--   ring      a ring buffer woken per event (flags 0), as a user writes it
--   timed     bpflua's own tracers: BPF_RB_NO_WAKEUP, drained on a timer
--   perf      a perf buffer
--   fill      no draining until the workload is done, then a timed drain:
--             how fast a Lua callback takes queued events
--   work      the same program without its output call: what its helpers
--             cost alone, so the ring's own share can be told apart
-- Prints "received N" and, for fill, "drain_per_s R". Ends when GATE_DONE
-- (arg[2]) exists and everything queued is read.
local mode, done_file, ready_file = arg[1], arg[2], arg[3]
local ring = mode ~= "perf"
local flags = mode == "timed" and 1 or 0
local b = BPF{ text = [[
struct event { u32 pid; u32 cpu; u64 ts; };
#ifdef RING
BPF_RINGBUF_OUTPUT(events, PAGES);
#else
BPF_PERF_OUTPUT(events);
#endif
TRACEPOINT_PROBE(syscalls, sys_enter_getppid)
{
	char comm[16];
	bpf_get_current_comm(&comm, sizeof(comm));
	if (comm[0] != 'b' || comm[1] != 'l' || comm[2] != '_' || comm[3] != 'b')
		return 0;
	struct event e = { .pid = bpf_get_current_pid_tgid() >> 32, .cpu = bpf_get_smp_processor_id(),
			   .ts = bpf_ktime_get_ns() };
#if defined(WORK)
	(void)e;
#elif defined(RING)
	events.ringbuf_output(&e, sizeof(e), FLAGS);
#else
	events.perf_submit(args, &e, sizeof(e));
#endif
	return 0;
}
]], cflags = { ring and "-DRING" or "-DPERF", mode == "work" and "-DWORK" or "-DNOWORK", "-DFLAGS=" .. flags,
               "-DPAGES=" .. (mode == "fill" and 16384 or 1024) } }
local function done()
  local f = io.open(done_file)
  if f then f:close() end
  return f ~= nil
end
local n = 0
local function cb() n = n + 1 end
local t = b:get_table("events")
-- reuse: the callback keeps nothing, so one table is refilled per event
if mode == "work" then
  io.open(ready_file, "w"):close()
  while not done() do BPF.sleep(0.05) end
  print("received 0")
  return
elseif ring then
  t:open_ring_buffer(cb, { reuse = true })
else
  t:open_perf_buffer(cb, { page_cnt = 1024, lost_cb = function() end, reuse = true })
end
io.open(ready_file, "w"):close()
if mode == "fill" then
  while not done() do BPF.sleep(0.01) end
  local t0 = BPF.monotonic()
  b:ring_buffer_consume()
  local dt = BPF.monotonic() - t0
  print("received " .. n)
  print(string.format("drain_per_s %.0f", n / dt))
  return
end
while true do
  local finished = done()
  if mode == "timed" then
    BPF.sleep(0.01)
    b:ring_buffer_consume()
  elseif ring then
    b:ring_buffer_poll(50)
  else
    b:perf_buffer_poll(50)
  end
  if finished then break end
end
if ring then b:ring_buffer_consume() else b:perf_buffer_poll(0) end
print("received " .. n)
