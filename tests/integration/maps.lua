-- A workload makes an exact number of getppid calls; the count must come
-- back exactly through a hash, a per-CPU array, a perf buffer and a ring buffer.
local t = dofile(arg[0]:match("(.*/)") .. "lib.lua")
local N = 12345

local b = BPF{ text = [[
struct event { u32 pid; u32 seq; char comm[16]; u64 magic; };
BPF_HASH(counts, u32, u64);
BPF_PERCPU_ARRAY(percpu, u64, 1);
BPF_PERF_OUTPUT(perf_events);
BPF_RINGBUF_OUTPUT(ring_events, 1024);
BPF_ARRAY(target, u32, 1);
BPF_ARRAY(seqs, u32, 2);

TRACEPOINT_PROBE(syscalls, sys_enter_getppid)
{
	u32 zero = 0, one = 1;
	u32 pid = bpf_get_current_pid_tgid() >> 32;
	u32 *want = target.lookup(&zero);
	if (!want || *want != pid)
		return 0;
	counts.increment(pid);
	percpu.increment(zero);
	struct event e = {};
	e.pid = pid;
	e.magic = 0x1122334455667788ULL;
	bpf_get_current_comm(e.comm, sizeof(e.comm));
	u32 *s = seqs.lookup(&zero);
	if (s) { e.seq = *s; __sync_fetch_and_add(s, 1); }
	perf_events.perf_submit(args, &e, sizeof(e));
	ring_events.ringbuf_output(&e, sizeof(e), 0);
	return 0;
}
]] }

-- The workload's pid is only known once it runs, and it runs after attach:
-- so it waits on a gate file while the pid goes into the target map.
local gate = os.tmpname()
os.remove(gate)
local p = io.popen(t.workload .. " getppid " .. N .. " " .. gate, "r")
local pid = math.tointeger(tonumber(p:read("l")))
b:get_table("target"):set(0, pid)

local perf_n, ring_n, bad = 0, 0, 0
local perf_seq = {}
b:get_table("perf_events"):open_perf_buffer(function(e)
  perf_n = perf_n + 1
  if e.pid ~= pid or e.comm ~= "workload" or e.magic ~= 0x1122334455667788 then bad = bad + 1 end
  perf_seq[e.seq] = true
end, { page_cnt = 256 })
b:get_table("ring_events"):open_ring_buffer(function(e)
  ring_n = ring_n + 1
  if e.pid ~= pid or e.comm ~= "workload" then bad = bad + 1 end
end)

io.open(gate, "w"):close()
-- drain while the workload runs, so bounded buffers never overflow
local deadline = BPF.monotonic() + 60
while (perf_n < N or ring_n < N) and BPF.monotonic() < deadline do
  b:perf_buffer_poll(50)
  b:ring_buffer_poll(0)
end
p:close()
os.remove(gate)

t.eq(b:get_table("counts"):get(pid), N, "hash count")
t.eq(b:get_table("percpu"):sum(0), N, "per-CPU array sum")
local cpus = b:get_table("percpu"):get(0)
t.ok(type(cpus) == "table" and #cpus >= 1, "per-CPU value is a list per CPU")
t.eq(perf_n, N, "perf buffer events")
t.eq(ring_n, N, "ring buffer events")
t.eq(bad, 0, "events with wrong fields")
local missing = 0
for i = 0, N - 1 do if not perf_seq[i] then missing = missing + 1 end end
t.eq(missing, 0, "perf events missing by sequence number")

-- items() on a hash gives exactly the one key
local keys = 0
for k, v in b:get_table("counts"):items() do keys = keys + 1; t.eq(k, pid, "hash key"); t.eq(v, N, "hash value") end
t.eq(keys, 1, "hash entries")

-- set / get / delete / clear round trips, with a struct key
b:get_table("counts"):set(42, 7)
t.eq(b:get_table("counts"):get(42), 7, "set then get")
b:get_table("counts"):delete(42)
t.eq(b:get_table("counts"):get(42), nil, "deleted key")
b:get_table("counts"):clear()
t.eq(#b:get_table("counts"):keys(), 0, "cleared hash")

-- a missing table is a clear error naming the tables there are
local ok, err = pcall(b.get_table, b, "nosuch")
t.ok(not ok and err:find("no table named 'nosuch'") and err:find("counts"), "missing table error: " .. tostring(err))

b:cleanup()
t.eq(t.bpf_fds(), 0, "BPF fds left after cleanup")

-- src_file = path compiles a file's C the same way
local path = os.tmpname()
local f = io.open(path, "w")
f:write("BPF_HASH(from_file, u32, u64);\n")
f:close()
local fb = BPF{ src_file = path }
os.remove(path)
t.eq(fb:get_table("from_file"):info().key_size, 4, "table of a src_file program")
fb:cleanup()

-- t:range(first, n): a run of an array's values in one batched lookup,
-- the same as t:get of each index; per-CPU arrays give a list per index
local rb = BPF{ text = "BPF_ARRAY(arr, u64, 300); BPF_PERCPU_ARRAY(pc, u32, 40); BPF_HASH(h, u32, u32);" }
local arr, pc = rb:get_table("arr"), rb:get_table("pc")
for i = 0, 299 do arr:set(i, i * 7 + 1) end
local ncpu = #pc:get(0)
for i = 0, 39 do
  local v = {}
  for c = 1, ncpu do v[c] = i * 100 + c end
  pc:set(i, v)
end
local function same_as_get(tab, first, n, what)
  local got, bad = tab:range(first, n), 0
  for i = 1, n do
    local want = tab:get(first + i - 1)
    if type(want) == "table" then want = table.concat(want, ",") end
    local v = got[i]
    if type(v) == "table" then v = table.concat(v, ",") end
    if v ~= want then bad = bad + 1 end
  end
  t.eq(#got, n, what .. ": values")
  t.eq(bad, 0, what .. ": values unlike t:get's")
end
same_as_get(arr, 0, 300, "range over a whole array")
same_as_get(arr, 17, 64, "range from the middle")
same_as_get(arr, 299, 1, "range of the last index")
same_as_get(pc, 3, 30, "range over a per-CPU array")
t.eq(#arr:range(5, 0), 0, "an empty range")
for _, bad in ipairs{ { arr, 0, 301, "past the array's end" }, { arr, 301, 0, "not an index" },
                      { arr, -1, 2, "not an index" }, { rb:get_table("h"), 0, 1, "not an array" } } do
  local ok, err = pcall(bad[1].range, bad[1], bad[2], bad[3])
  t.ok(not ok and tostring(err):find(bad[4], 1, true), "range refused: " .. bad[4] .. " (" .. tostring(err) .. ")")
end
rb:cleanup()
t.done("maps")
