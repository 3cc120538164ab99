-- An example usage of stack_build_id
-- BCC's examples/tracing/stack_buildid_example.py, line by line in Lua.
-- Most of the code here is borrowed from tools/profile.py
--
-- Steps for using this code
-- 1) Start ping program in one terminal eg invocation: ping google.com -i0.001
-- 2) Change the path of libc specified in b:add_module() below
-- 3) Invoke the script as 'bpflua stack_buildid_example.lua [MODULE...]'
--    (the MODULEs are added to the build sym cache too)
--
-- REQUIRES: Linux 4.17+ (BPF_BUILD_ID support)

local function Get_libc_path()
    -- A small helper function that returns full path
    -- of libc in the system
    local f = io.popen("cat /proc/self/maps | grep libc | awk '{print $6}' | uniq")
    local output = f:read("a")
    f:close()
    return output:match("^([^\n]*)")
end

local bpf_text = [[
#include <uapi/linux/ptrace.h>
#include <uapi/linux/bpf_perf_event.h>
#include <linux/sched.h>

struct key_t {
    u32 pid;
    int user_stack_id;
    char name[TASK_COMM_LEN];
};
BPF_HASH(counts, struct key_t);
BPF_STACK_TRACE_BUILDID(stack_traces, 128);

int do_perf_event(struct bpf_perf_event_data *ctx) {
    u32 pid = bpf_get_current_pid_tgid() >> 32;

    // create map key
    struct key_t key = {.pid = pid};
    bpf_get_current_comm(&key.name, sizeof(key.name));

    key.user_stack_id = stack_traces.get_stackid(&ctx->regs, BPF_F_USER_STACK);

    if (key.user_stack_id >= 0) {
      counts.increment(key);
    }
    return 0;
}
]]

local b = BPF{ text = bpf_text }
b:attach_perf_event{
    ev_type = BPF.PERF_TYPE_SOFTWARE,
    ev_config = BPF.PERF_COUNT_SW_CPU_CLOCK,
    fn_name = "do_perf_event",
    sample_period = 0,
    sample_freq = 49,
    cpu = 0,
}

-- Add the list of libraries/executables to the build sym cache for sym resolution
-- Change the libc path if it is different on a different machine.
-- libc.so and ping are added here so that any symbols pertaining to
-- libc or ping are resolved. More executables/libraries can be added here.
b:add_module(Get_libc_path())
b:add_module("/usr/sbin/sshd")
b:add_module("/bin/ping")
for _, m in ipairs(arg) do b:add_module(m) end
local counts = b:get_table("counts")
local stack_traces = b:get_table("stack_traces")
local duration = 2

-- as cleanup can take some time, Ctrl-C only cuts the sleep short
BPF.sleep(duration)

local user_stack = {}
local sorted = {}
for k, v in counts:items() do sorted[#sorted + 1] = { k = k, v = v } end
table.sort(sorted, function(x, y) return x.v < y.v end)
for _, c in ipairs(sorted) do
    local k, v = c.k, c.v
    user_stack = {}
    if k.user_stack_id >= 0 then
        for addr in stack_traces:walk(k.user_stack_id) do user_stack[#user_stack + 1] = addr end
    end
    for _, addr in ipairs(user_stack) do
        print(string.format("    %s", b:sym(addr, k.pid)))
    end
    print(string.format("    %-16s %s (%d)", "-", k.name, k.pid))
    print(string.format("        %d\n", v))
end
