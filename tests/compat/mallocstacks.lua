-- mallocstacks  Trace malloc() calls in a process and print the full
--               stack trace for all callsites.
--               BCC's examples/tracing/mallocstacks.py, line by line in Lua.
--
-- This script is a basic example of the new Linux 4.6+ BPF_STACK_TRACE
-- table API.
-- USAGE: bpflua mallocstacks.lua PID [NUM_STACKS=1024]   (Ctrl-C ends it)

if #arg < 1 then
    print("USAGE: mallocstacks PID [NUM_STACKS=1024]")
    os.exit()
end
local pid = math.tointeger(tonumber(arg[1]))
local stacks
if #arg == 2 then
    if not (math.tointeger(tonumber(arg[2])) and tonumber(arg[2]) > 0) then
        print("USAGE: mallocstacks PID [NUM_STACKS=1024]")
        print("NUM_STACKS must be a non-zero, positive integer")
        os.exit()
    end
    stacks = arg[2]
else
    stacks = "1024"
end

-- load BPF program
local b = BPF{ text = [[
#include <uapi/linux/ptrace.h>

BPF_HASH(calls, int);
BPF_STACK_TRACE(stack_traces, ]] .. stacks .. [[);

int alloc_enter(struct pt_regs *ctx, size_t size) {
    int key = stack_traces.get_stackid(ctx,
        BPF_F_USER_STACK|BPF_F_REUSE_STACKID);
    if (key < 0)
        return 0;

    // could also use `calls.increment(key, size);`
    u64 zero = 0, *val;
    val = calls.lookup_or_init(&key, &zero);
    (*val) += size;
    return 0;
};
]] }

b:attach_uprobe{ name = "c", sym = "malloc", fn_name = "alloc_enter", pid = pid }
print(string.format("Attaching to malloc in pid %d, Ctrl+C to quit.", pid))
io.stdout:flush()

-- sleep until Ctrl-C
BPF.sleep(99999999)

local calls = b:get_table("calls")
local stack_traces = b:get_table("stack_traces")

local sorted = {}
for k, v in calls:items() do sorted[#sorted + 1] = { k = k, v = v } end
table.sort(sorted, function(x, y) return x.v > y.v end) -- reversed(sorted(...))
for _, c in ipairs(sorted) do
    print(string.format("%d bytes allocated at:", c.v))
    for addr in stack_traces:walk(c.k) do
        print(string.format("\t%s", b:sym(addr, pid, true))) -- show_offset=True
    end
end
