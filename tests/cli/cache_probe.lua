-- Helper of cache.sh: compiles (or loads from the cache) a counter, drives a
-- known workload, and prints what happened, one fact a line.
local cflag = arg[1] or "-DSTEP=1"
local b = BPF{ text = [[
BPF_ARRAY(count, u64, 1);
BPF_ARRAY(target, u32, 1);
TRACEPOINT_PROBE(syscalls, sys_enter_getppid)
{
	int zero = 0;
	u32 *want = target.lookup(&zero);
	if (!want || *want != (bpf_get_current_pid_tgid() >> 32))
		return 0;
	u64 *n = count.lookup(&zero);
	if (n)
		__sync_fetch_and_add(n, STEP);
	return 0;
}
]], cflags = { cflag } }
local gate = os.tmpname()
os.remove(gate)
local p = io.popen(os.getenv("BPFLUA_WORKLOAD") .. " getppid 4321 " .. gate)
b:get_table("target"):set(0, math.tointeger(tonumber(p:read("l"))))
io.open(gate, "w"):close()
p:close()
os.remove(gate)
local st = BPF.cache_stats()
print("count " .. b:get_table("count"):get(0))
print("hits " .. st.hits)
print("misses " .. st.misses)
local maps = io.open("/proc/self/maps"):read("a")
print("llvm " .. (maps:find("libLLVM", 1, true) and "mapped" or "absent"))
print("libbcc " .. (maps:find("libbcc.so", 1, true) and "mapped" or "absent"))
