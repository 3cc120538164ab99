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
