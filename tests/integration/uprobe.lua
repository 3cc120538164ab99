-- A uprobe on a function of the test binary fires exactly as often as it
-- is called, and a uretprobe as often as it returns.
local t = dofile(arg[0]:match("(.*/)") .. "lib.lua")
local N = 5000

local b = BPF{ text = [[
BPF_HASH(calls, u32, u64);
BPF_HASH(returns, u32, u64);
int on_call(struct pt_regs *ctx) { u32 pid = bpf_get_current_pid_tgid() >> 32; calls.increment(pid); return 0; }
int on_return(struct pt_regs *ctx) { u32 pid = bpf_get_current_pid_tgid() >> 32; returns.increment(pid); return 0; }
]] }
b:attach_uprobe{ name = t.workload, sym = "bl_traced_function", fn_name = "on_call" }
b:attach_uretprobe{ name = t.workload, sym = "bl_traced_function", fn_name = "on_return" }
t.eq(#b:attached(), 2, "links attached")

local pid = t.run("uprobe", N)
t.eq(b:get_table("calls"):get(pid), N, "uprobe hits")
t.eq(b:get_table("returns"):get(pid), N, "uretprobe hits")

-- emulate: a probe past the instructions the kernel would single-step sees
-- the same calls with the same argument as one at the entry (attached beside
-- it, without emulate), and stays at the entry where that is in doubt
-- (counted per process, pid << 4 | k: the no-BTF copy of this test runs
-- the same workload binary meanwhile, and its calls hit these probes too)
local e = BPF{ text = [[
BPF_HASH(hits, u64, u64, 1024);
static void add(u64 k, u64 v)
{
	u64 zero = 0, *n;

	k |= (bpf_get_current_pid_tgid() >> 32) << 4;
	n = hits.lookup_or_try_init(&k, &zero);
	if (n)
		__sync_fetch_and_add(n, v);
}
static int count(struct pt_regs *ctx, int k)
{
	add(k, 1);
	add(k + 1, PT_REGS_PARM1(ctx));
	return 0;
}
int add_moved(struct pt_regs *ctx) { return count(ctx, 0); }
int add_entry(struct pt_regs *ctx) { return count(ctx, 2); }
int rejoined(struct pt_regs *ctx) { return count(ctx, 4); }
int moves_first(struct pt_regs *ctx) { return count(ctx, 6); }
int loops_back(struct pt_regs *ctx) { add(8, 1); return 0; }
int reads_first(struct pt_regs *ctx) { add(9, 1); return 0; }
]] }
local function up(sym, fn, emulate)
  e:attach_uprobe{ name = t.workload, sym = sym, fn_name = fn, emulate = emulate }
end
up("bl_guarded_add", "add_moved", true)
up("bl_guarded_add", "add_entry", false)
up("bl_rejoined", "rejoined", true)
up("bl_moves_first", "moves_first", true)
up("bl_loops_back", "loops_back", true)
up("bl_reads_first", "reads_first", true)
local where = table.concat(e:attached(), " ")
t.ok(where:find("bl_guarded_add+0x3", 1, true), "past `test` to the `je` at +3: " .. where)
t.ok(not where:find("bl_rejoined+", 1, true), "a branch back to the je keeps the probe at the entry: " .. where)
t.ok(not where:find("bl_moves_first+", 1, true), "a first instruction that writes a register keeps it there: " .. where)
t.ok(not where:find("bl_loops_back+", 1, true), "a `loop` back to the je keeps it there: " .. where)
t.ok(not where:find("bl_reads_first+", 1, true), "a first `cmp` that reads memory (and may fault) keeps it there: " .. where)
local M = 3000
local epid = t.run("emulate", M)
local hits = e:get_table("hits")
local h = { get = function(_, k) return hits:get((epid << 4) | k) end }
local sum = M * (M - 1) // 2
t.eq(h:get(2), M, "calls seen at the entry")
t.eq(h:get(3), sum, "arguments seen at the entry")
t.eq(h:get(0), M, "calls seen past the test")
t.eq(h:get(1), sum, "arguments seen past the test")
t.eq(h:get(4), M, "calls of the function with a branch back")
t.eq(h:get(5), 3 * M, "its argument")
t.eq(h:get(6), M, "calls of the function that writes a register first")
t.eq(h:get(7), sum, "its argument")
t.eq(h:get(8), M, "calls of the function with a `loop` back")
t.eq(h:get(9), M, "calls of the function that reads memory first")
e:detach_uprobe{ name = t.workload, sym = "bl_guarded_add", emulate = true }
t.ok(not table.concat(e:attached(), " "):find("+0x3", 1, true), "detach_uprobe with emulate finds the moved probe")
local ok0, err0 = pcall(e.attach_uprobe, e, { name = t.workload, sym = "bl_guarded_add", fn_name = "add_moved", emulate = 1 })
t.ok(not ok0 and tostring(err0):find("'emulate' must be a boolean"), "emulate = 1: " .. tostring(err0))
e:cleanup()

-- a missing symbol and a missing binary are clear errors, and leave nothing
local before = t.bpf_fds()
local ok, err = pcall(b.attach_uprobe, b, { name = t.workload, sym = "no_such_function", fn_name = "on_call" })
t.ok(not ok and err:find("no_such_function"), "missing symbol: " .. tostring(err))
ok, err = pcall(b.attach_uprobe, b, { name = "/no/such/binary", sym = "main", fn_name = "on_call" })
t.ok(not ok and err:find("/no/such/binary"), "missing binary: " .. tostring(err))
t.eq(t.bpf_fds(), before, "fds after failed attaches")

b:cleanup()
t.eq(t.bpf_fds(), 0, "BPF fds left after cleanup")
local f = io.open("/sys/kernel/tracing/uprobe_events") or io.open("/sys/kernel/debug/tracing/uprobe_events")
if f then
  local s = f:read("a")
  f:close()
  t.ok(not s:find("bpflua_" .. BPF.getpid()), "uprobe_events entries left: " .. s)
end
t.done("uprobe")
