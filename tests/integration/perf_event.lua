-- A 99 Hz perf-event sampler over a CPU-bound child: samples carry its pid,
-- and its user stacks resolve to the function that burns the CPU.
local t = dofile(arg[0]:match("(.*/)") .. "lib.lua")

local b = BPF{ text = [[
#include <uapi/linux/bpf_perf_event.h>
struct key_t { u32 pid; int ustack; int kstack; };
BPF_HASH(samples, struct key_t, u64);
BPF_STACK_TRACE(stacks, 16384);
BPF_ARRAY(target, u32, 1);
int on_sample(struct bpf_perf_event_data *ctx) {
	struct key_t k = {};
	int zero = 0;
	u32 *want = target.lookup(&zero);
	k.pid = bpf_get_current_pid_tgid() >> 32;
	/* only the burner: other processes' stacks would crowd the stack map
	 * (a full bucket gives no stack id) when tests run side by side */
	if (k.pid == 0 || !want || k.pid != *want)
		return 0;
	k.ustack = stacks.get_stackid(&ctx->regs, BPF_F_USER_STACK);
	k.kstack = stacks.get_stackid(&ctx->regs, 0);
	samples.increment(k);
	return 0;
}
]] }
b:attach_perf_event{ ev_type = BPF.PERF_TYPE_SOFTWARE, ev_config = BPF.PERF_COUNT_SW_CPU_CLOCK,
                     fn_name = "on_sample", sample_freq = 99, pid = -1, cpu = -1 }

local SECONDS = 2
local gate = os.tmpname()
os.remove(gate)
local p = io.popen(t.workload .. " burn " .. SECONDS .. " " .. gate, "r")
local pid = math.tointeger(tonumber(p:read("l")))
b:get_table("target"):set(0, pid)
t.eq(p:read("l"), "done", "workload finished burning")
-- the referee: the CPU time the kernel charged the burner (utime + stime,
-- in clock ticks of 1/100 s), since on a loaded host it gets less than 2 s
local stat = io.open("/proc/" .. pid .. "/stat"):read("a")
local utime, stime = stat:match("%) %a" .. string.rep(" %S+", 10) .. " (%d+) (%d+)")
local cpu_seconds = (tonumber(utime) + tonumber(stime)) / 100

local total, in_burn = 0, 0
local stacks = b:get_table("stacks")
for k, n in b:get_table("samples"):items() do
  if k.pid == pid then
    total = total + n
    if k.ustack >= 0 then
      for ip in stacks:walk(k.ustack) do
        if b:sym(ip, pid) == "bl_burn_cpu" then in_burn = in_burn + n; break end
      end
    end
  end
end
io.open(gate, "w"):close()
p:close()
os.remove(gate)
-- 99 Hz over the CPU time the burner got: 99 samples a CPU second, give or
-- take the ticks' granularity; nearly all of them in bl_burn_cpu.
local want = 99 * cpu_seconds
t.ok(total >= want * 0.8 - 3 and total <= want * 1.2 + 3,
     string.format("samples of the busy child: %d for %.2f CPU seconds (%.0f expected)", total, cpu_seconds, want))
t.ok(in_burn >= total * 0.9, string.format("samples in bl_burn_cpu: %d of %d", in_burn, total))
-- kernel symbols resolve through kallsyms
t.ok(BPF.ksym(0) == "[unknown]", "address 0 is unknown")
b:cleanup()
t.done("perf_event")
