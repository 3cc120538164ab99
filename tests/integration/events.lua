-- Every event of a known workload arrives through the one events API, on
-- each path it can take: a ring buffer woken per event, a ring buffer
-- drained on a timer (no wake-ups), and the forced perf-buffer fallback.
local t = dofile(arg[0]:match("(.*/)") .. "lib.lua")
local events = require("bpflua.events")
local N = 20000

local text = [[
struct event { u32 pid; u32 seq; };
#ifdef BL_RINGBUF
BPF_RINGBUF_OUTPUT(events, 1024);
#else
BPF_PERF_OUTPUT(events);
#endif
BPF_PERCPU_ARRAY(events_lost, u64, 1);
BPF_ARRAY(target, u32, 1);
BPF_ARRAY(seqs, u32, 1);

TRACEPOINT_PROBE(syscalls, sys_enter_getppid)
{
	u32 zero = 0;
	u32 pid = bpf_get_current_pid_tgid() >> 32;
	u32 *want = target.lookup(&zero);
	if (!want || *want != pid)
		return 0;
	struct event e = { .pid = pid };
	u32 *s = seqs.lookup(&zero);
	if (s) { /* one thread makes the calls, so no atomics needed */
		e.seq = *s;
		*s += 1;
	}
#ifdef BL_RINGBUF
	if (events.ringbuf_output(&e, sizeof(e), BL_RB_FLAGS))
		events_lost.increment(zero);
#else
	events.perf_submit(args, &e, sizeof(e));
#endif
	return 0;
}
]]

local function run(label, force_perf, timed)
  events.force_perf(force_perf)
  local defs = events.defines({}, timed)
  local cflags = {}
  for k, v in pairs(defs) do cflags[#cflags + 1] = "-D" .. k .. (v == true and "" or ("=" .. tostring(v))) end
  local b = BPF{ text = text, cflags = cflags }
  local gate = os.tmpname()
  os.remove(gate)
  local p = io.popen(t.workload .. " getppid " .. N .. " " .. gate, "r")
  local pid = math.tointeger(tonumber(p:read("l")))
  b:get_table("target"):set(0, pid)
  local n, bad, seen = 0, 0, {}
  local r = events.open(b, "events", function(e)
    n = n + 1
    if e.pid ~= pid then bad = bad + 1 end
    seen[e.seq] = true
  end, { timed = timed })
  t.eq(r:kind(), force_perf and "perf buffer" or "ring buffer", label .. ": buffer kind")
  io.open(gate, "w"):close()
  local deadline = BPF.monotonic() + 60
  while n < N and BPF.monotonic() < deadline do r:poll(20) end
  p:close()
  os.remove(gate)
  r:drain()
  local missing = 0
  for i = 0, N - 1 do if not seen[i] then missing = missing + 1 end end
  t.eq(n, N, label .. ": events")
  t.eq(missing, 0, label .. ": sequence numbers missing")
  t.eq(bad, 0, label .. ": events of another pid")
  t.eq(r:lost(), 0, label .. ": lost")
  b:cleanup()
end

-- cut = { data = "len" }: a capture buffer comes decoded only as far as
-- its length field says (past its size: all of it), on either buffer kind;
-- a cut naming what the event does not have is refused before anything
-- is opened
local cut_text = [[
struct event { u32 seq; u32 len; char data[64]; };
#ifdef BL_RINGBUF
BPF_RINGBUF_OUTPUT(events, 64);
#else
BPF_PERF_OUTPUT(events);
#endif
BPF_ARRAY(target, u32, 1);
BPF_ARRAY(seqs, u32, 1);

TRACEPOINT_PROBE(syscalls, sys_enter_getppid)
{
	u32 zero = 0;
	u32 pid = bpf_get_current_pid_tgid() >> 32;
	u32 *want = target.lookup(&zero);
	u32 *s = seqs.lookup(&zero);
	if (!want || *want != pid || !s)
		return 0;
	struct event e = { .seq = *s, .len = *s % 80 };
	*s += 1;
	for (int i = 0; i < 64; i++)
		e.data[i] = 'a' + (e.seq & 15);
#ifdef SHORT /* the used part of data alone */
	u32 size = 8 + (e.len > 64 ? 64 : e.len);
#else
	u32 size = sizeof(e);
#endif
#ifdef BL_RINGBUF
	events.ringbuf_output(&e, size, 0);
#else
	events.perf_submit(args, &e, size);
#endif
	return 0;
}
]]

local function run_cut(label, force_perf, short)
  local M = 400
  events.force_perf(force_perf)
  local cflags = { short and "-DSHORT" or nil }
  for k, v in pairs(events.defines({}, false)) do cflags[#cflags + 1] = "-D" .. k .. (v == true and "" or ("=" .. tostring(v))) end
  local b = BPF{ text = cut_text, cflags = cflags }
  for _, bad in ipairs{ { { nope = "len" }, "no byte array named nope" }, { { data = "nope" }, "no integer field named nope" },
                        { { seq = "len" }, "no byte array named seq" }, { "data", "cut must be a table" } } do
    local ok, err = pcall(events.open, b, "events", function() end, { cut = bad[1] })
    t.ok(not ok and tostring(err):find(bad[2], 1, true), label .. ": cut " .. bad[2] .. " refused (" .. tostring(err) .. ")")
  end
  local gate = os.tmpname()
  os.remove(gate)
  local p = io.popen(t.workload .. " getppid " .. M .. " " .. gate, "r")
  b:get_table("target"):set(0, math.tointeger(tonumber(p:read("l"))))
  local n, wrong = 0, 0
  local r = events.open(b, "events", function(e)
    n = n + 1
    local want = {}
    for _ = 1, math.min(e.len, 64) do want[#want + 1] = string.char(97 + (e.seq & 15)) end
    if e.data ~= table.concat(want) then wrong = wrong + 1 end
  end, { cut = { data = "len" } })
  io.open(gate, "w"):close()
  p:close() -- the workload is done: its M events wait in the buffer
  if not force_perf then
    -- ring_buffer_fill: the bytes waiting (8-byte header, 8-byte aligned
    -- records) against the ring's 64 pages; none once drained
    local bytes = 0
    for seq = 0, M - 1 do
      local size = short and 8 + math.min(seq % 80, 64) or 72
      bytes = bytes + 8 + (size + 7) // 8 * 8
    end
    t.eq(b:ring_buffer_fill(), bytes / (64 * 4096), label .. ": ring_buffer_fill with the events waiting")
  end
  local deadline = BPF.monotonic() + 60
  while n < M and BPF.monotonic() < deadline do r:poll(20) end
  os.remove(gate)
  if not force_perf then t.eq(b:ring_buffer_fill(), 0.0, label .. ": ring_buffer_fill once drained") end
  t.eq(n, M, label .. ": cut events")
  t.eq(wrong, 0, label .. ": cut events whose data is not the first len bytes")
  b:cleanup()
end

t.ok(BPF.features().ringbuf, "this kernel has ring buffers")
run_cut("ring buffer", false)
run_cut("perf buffer", true)
run_cut("ring buffer, records cut short", false, true)
run_cut("perf buffer, records cut short", true, true)
run("ring buffer", false, false)
run("ring buffer, timed drain", false, true)
run("forced perf buffer", true, false)
t.done("events")
