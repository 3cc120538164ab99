-- urandomread  Example of instrumenting a kernel tracepoint.
--              BCC's examples/tracing/urandomread.py, line by line in Lua.
--
-- One change: random:urandom_read was removed in Linux 5.18, so this reads
-- syscalls:sys_exit_getrandom, which counts the same bytes (GOTBITS =
-- bytes * 8). Test by running this, then in another shell:
--     python3 -c 'import os; os.getrandom(64)'
-- USAGE: bpflua urandomread.lua   (Ctrl-C ends it)

-- load BPF program
local b = BPF{ text = [[
TRACEPOINT_PROBE(syscalls, sys_exit_getrandom) {
    // args is from /sys/kernel/tracing/events/syscalls/sys_exit_getrandom/format
    if (args->ret > 0)
        bpf_trace_printk("%d\n", args->ret * 8);
    return 0;
}
]] }

-- header
print(string.format("%-18s %-16s %-6s %s", "TIME(s)", "COMM", "PID", "GOTBITS"))
io.stdout:flush()

-- format output
while true do
    local task, pid, cpu, flags, ts, msg = b:trace_fields()
    if not task then break end -- KeyboardInterrupt
    print(string.format("%-18.9f %-16s %-6d %s", ts, task, pid, msg))
    io.stdout:flush()
end
