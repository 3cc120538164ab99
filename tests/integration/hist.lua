-- print_log2_hist and print_linear_hist over values the BPF program itself
-- bucketed with bpf_log2l: 1 ms sleeps land in the 1024-2047 us bucket.
local t = dofile(arg[0]:match("(.*/)") .. "lib.lua")

local b = BPF{ text = [[
BPF_HISTOGRAM(dist);
BPF_HISTOGRAM(small);
BPF_HISTOGRAM(lin);
BPF_ARRAY(target, u32, 1);
TRACEPOINT_PROBE(syscalls, sys_enter_getppid) {
	u32 zero = 0;
	u32 *want = target.lookup(&zero);
	if (!want || *want != (bpf_get_current_pid_tgid() >> 32))
		return 0;
	dist.increment(bpf_log2l(1500));   /* 1500 us: bucket 1024 -> 2047 */
	small.increment(bpf_log2l(0));      /* 0: bucket 1, "0 -> 1" as BCC prints it */
	small.increment(bpf_log2l(3));      /* 3: bucket 2, "2 -> 3" */
	lin.increment(3);
	return 0;
}
]] }
local gate = os.tmpname()
os.remove(gate)
local p = io.popen(t.workload .. " getppid 100 " .. gate, "r")
b:get_table("target"):set(0, math.tointeger(tonumber(p:read("l"))))
io.open(gate, "w"):close()
p:read("a")
p:close()
os.remove(gate)

local lines = {}
local real_print = print
print = function(s) lines[#lines + 1] = s end
b:get_table("dist"):print_log2_hist("usecs")
b:get_table("lin"):print_linear_hist("value")
local zlines = {}
print = function(s) zlines[#zlines + 1] = s end
b:get_table("small"):print_log2_hist("usecs")
print = real_print
local text = table.concat(lines, "\n")
t.ok(text:find("usecs +: count +distribution"), "log2 header:\n" .. text)
t.ok(text:find("\n +1024 %-> 2047 +: 100 +|%*+|"), "1500 counted 100 times in 1024 -> 2047:\n" .. text)
t.ok(text:find("\n +512 %-> 1023 +: 0 "), "empty bucket below:\n" .. text)
t.ok(text:find("\n        3          : 100      |%*+|", 1, false), "linear bucket 3, as BCC prints it:\n" .. text)
local ztext = table.concat(zlines, "\n")
t.ok(ztext:find("\n +0 %-> 1 +: 100 ") and ztext:find("\n +2 %-> 3 +: 100 "), "0 and 3 as BCC labels them:\n" .. ztext)
t.ok(not ztext:find("1 %-> 1"), "no '1 -> 1' row:\n" .. ztext)
t.eq(#zlines, 3, "a header and two rows")
t.done("hist")
