-- Kprobes from a script: attach_kprobe/attach_kretprobe and the kprobe__ /
-- kretprobe__ auto-attach names fire exactly as often as the workload
-- enters and leaves a syscall's kernel function; a missing function is a
-- clear error; nothing is left in kprobe_events. On a kernel without
-- kprobes (this project's own CI host) it says so and is skipped (exit 77,
-- ctest's SKIP_RETURN_CODE): the matrix's guests run it.
local t = dofile(arg[0]:match("(.*/)") .. "lib.lua")
local f = BPF.features()
if not f.kprobes then
  print(string.format("SKIP: this kernel has no kprobes (CONFIG_KPROBES=%s); the 5.10 and 6.1 guests of "
                      .. "./dev.sh test-kernels run this test", f.config_kprobes or "unknown"))
  os.exit(77)
end
local N = 5000

-- the syscall's kernel function, as BCC's get_syscall_fnname names it
local fn = "__x64_sys_getppid"
local b = BPF{ text = [[
#include <uapi/linux/ptrace.h>
BPF_HASH(calls, u32, u64);
BPF_HASH(returns, u32, u64);
BPF_HASH(rets, u32, u64);
int on_call(struct pt_regs *ctx) { u32 pid = bpf_get_current_pid_tgid() >> 32; calls.increment(pid); return 0; }
int on_return(struct pt_regs *ctx)
{
	u32 pid = bpf_get_current_pid_tgid() >> 32;

	returns.increment(pid);
	/* getppid returns the parent's pid: the sum is N times it */
	rets.increment(pid, PT_REGS_RC(ctx));
	return 0;
}
]] }
if b.get_syscall_fnname then t.eq(b:get_syscall_fnname("getppid"), fn, "get_syscall_fnname") end
b:attach_kprobe{ event = fn, fn_name = "on_call" }
b:attach_kretprobe{ event = fn, fn_name = "on_return" }
t.eq(#b:attached(), 2, "links attached")

-- the workload's parent is the shell io.popen starts: its pid is the sum / N
local pid = t.run("getppid", N)
t.eq(b:get_table("calls"):get(pid), N, "kprobe hits")
t.eq(b:get_table("returns"):get(pid), N, "kretprobe hits")
local sum = b:get_table("rets"):get(pid)
t.ok(sum and sum % N == 0 and sum // N > 1, "kretprobe return values: " .. tostring(sum))

-- a missing function: a clear error naming it, nothing attached
local before = t.bpf_fds()
local ok, err = pcall(b.attach_kprobe, b, { event = "bl_no_such_kernel_function", fn_name = "on_call" })
t.ok(not ok and tostring(err):find("bl_no_such_kernel_function", 1, true), "missing function: " .. tostring(err))
t.eq(t.bpf_fds(), before, "fds after a failed attach")
b:cleanup()
t.eq(t.bpf_fds(), 0, "BPF fds left after cleanup")

-- auto-attach by name, as BCC does
local a = BPF{ text = string.format([[
BPF_ARRAY(target, u32, 1);
BPF_ARRAY(hits, u64, 2);
static __always_inline void hit(int i)
{
	int zero = 0;
	u32 *pid = target.lookup(&zero);

	if (pid && *pid == bpf_get_current_pid_tgid() >> 32)
		hits.increment(i);
}
int kprobe__%s(struct pt_regs *ctx) { hit(0); return 0; }
int kretprobe__%s(struct pt_regs *ctx) { hit(1); return 0; }
]], fn, fn) }
t.eq(#a:attached(), 2, "kprobe__ and kretprobe__ auto-attached")
-- the workload waits for a file before its calls, so its pid is set first
local gate = os.tmpname()
os.remove(gate)
local p = io.popen(t.workload .. " getppid " .. N .. " " .. gate, "r")
local wpid = math.tointeger(tonumber(p:read("l")))
a:get_table("target"):set(0, wpid)
io.open(gate, "w"):close()
p:read("a")
t.ok(p:close(), "workload with a gate")
os.remove(gate)
t.eq(a:get_table("hits"):get(0), N, "kprobe__ hits")
t.eq(a:get_table("hits"):get(1), N, "kretprobe__ hits")
a:cleanup()

local ev = io.open((f.tracefs ~= "" and f.tracefs or "/sys/kernel/tracing") .. "/kprobe_events")
if ev then
  local s = ev:read("a")
  ev:close()
  t.ok(not s:find("bpflua_" .. BPF.getpid(), 1, true), "kprobe_events entries left: " .. s)
end
t.done("kprobe")
