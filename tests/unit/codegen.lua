-- The one-liner code generator with no root and no kernel: fixed specs
-- against golden C text (golden/NAME.c, byte for byte: the compiled-program
-- cache keys on the text), the attach calls each probe kind makes, and the
-- generator's errors. Tracepoint formats come from a fake tracefs (tracefs/).
local t = dofile((arg[0]:match("^(.*/)") or "./") .. "lib.lua")
local oneliner = require("bpflua.oneliner")

oneliner.tracefs_dir = t.dir .. "/tracefs"
-- the generator must not ask the kernel anything
BPF.features = function() error("the generator asked for the kernel's features") end

local CASES = {
  { "count_comm", "count", { "t:syscalls:sys_enter_getppid", by = "comm" } },
  { "count_ids", "count", { "tracepoint:syscalls:sys_enter_getppid", by = { "pid", "tid", "cpu", "uid" } } },
  { "count_none", "count", { "t:syscalls:sys_enter_getppid" } },
  { "count_stack", "count", { "t:sched:sched_switch", by = "stack", filter = "args.prev_pid != 0" } },
  { "count_glob", "count", { "t:syscalls:sys_enter_getp*id", by = "pid" } },
  { "count_uprobe_ustack", "count", { "u:/bin/true:main", by = "ustack" } },
  { "count_uprobe_ustack_pid", "count", { "uprobe:/bin/true:main", by = { "pid", "ustack" } } },
  { "count_uretprobe_retval", "count", { "ur:c:malloc", by = "retval", filter = "retval == 0" } },
  { "count_kprobe_arg", "count", { "k:vfs_read", by = { "comm", "arg2" } } },
  { "sum_kretprobe", "sum", { "kr:vfs_read", value = "retval", by = "comm", filter = "retval > 0" } },
  { "sum_read", "sum", { "t:syscalls:sys_enter_read", value = "args.count", by = { "args.fd", "comm" },
                         filter = "comm_is(\"cat\")" } },
  { "avg_exit_read", "avg", { "t:syscalls:sys_exit_read", value = "args->ret", by = "comm", filter = "args.ret > 0" } },
  { "avg_raw", "avg", { "rt:sys_enter", value = "arg1", by = "cpu", filter = "arg1 == 39" } },
  { "hist_value", "hist", { "t:syscalls:sys_exit_read", value = "args.ret", filter = "args.ret > 0" } },
  { "hist_latency", "hist", { "t:syscalls:sys_enter_nanosleep", to = "t:syscalls:sys_exit_nanosleep",
                              filter = "comm_is(\"sleep\")" } },
  { "hist_latency_ms_by", "hist", { "t:syscalls:sys_enter_nanosleep", to = "t:syscalls:sys_exit_nanosleep",
                                    unit = "ms", by = "comm" } },
  { "avg_latency_uprobe_ns", "avg", { "u:c:malloc", to = "ur:c:malloc", unit = "ns", by = "pid" } },
  { "sum_latency_value", "sum", { "t:syscalls:sys_enter_read", to = "t:syscalls:sys_exit_read", value = "args.ret" } },
  { "trace_openat", "trace", { "t:syscalls:sys_enter_openat", fields = { "args.filename", "args.flags" },
                               filter = "comm_is(\"bl_oltest\") && args.flags == 0" } },
  { "trace_exec", "trace", { "t:sched:sched_process_exec", fields = { "args.filename", "args.old_pid", "pid" } } },
  { "trace_switch", "trace", { "t:sched:sched_switch", fields = { "args.prev_comm", "args.prev_pid", "args.prev_state",
                                                                  "comm", "tid", "cpu", "uid" } } },
  { "trace_read_unsigned", "trace", { "t:syscalls:sys_enter_read", fields = { "args.fd", "args.count", "args.buf" } } },
  { "trace_profile", "trace", { "p:hz:99", fields = { "stack", "ustack", "cpu" } } },
  { "count_profile", "count", { "profile:99", by = { "comm", "stack" } } },
  { "trace_raw", "trace", { "raw_tracepoint:sched_switch", fields = { "cpu" }, filter = "arg0 == 0" } },
  { "trace_uprobe_args", "trace", { "u:/bin/true:main", fields = { "arg0", "arg1", "ustack" } } },
  { "trace_uretprobe", "trace", { "ur:/bin/true:main", fields = { "retval" } } },
  { "trace_latency", "trace", { "t:syscalls:sys_enter_nanosleep", to = "t:syscalls:sys_exit_nanosleep",
                                fields = { "args.ret" } } },
  { "count_probe_glob", "count", { "t:syscalls:sys_enter_getp*id", by = "probe" } },
  { "printf_probe", "printf", { "u:/bin/true:main", "%s %d\n", "probe", "pid" } },
  { "count_name", "count", { probe = "t:syscalls:sys_enter_getpid", name = "calls", by = "comm" } },
  { "printf_openat", "printf", { "t:syscalls:sys_enter_openat", "%s opened %s (%d) %s\n", "comm", "str(args.filename)",
                                 "args.flags & 3", "comm", filter = "args.flags == 0" } },
  { "printf_readline", "printf", { "ur:/bin/bash:readline", "%-6d %s %s\n", "pid", "str(retval)", "str(arg0, 16)" } },
  { "min_read", "min", { "t:syscalls:sys_exit_read", value = "args.ret", by = "comm" } },
  { "max_latency", "max", { "t:syscalls:sys_enter_nanosleep", to = "t:syscalls:sys_exit_nanosleep", by = { "comm", "pid" } } },
  { "stats_read", "stats", { "t:syscalls:sys_enter_read", value = "args.count", by = "comm" } },
  { "lhist_read", "lhist", { "t:syscalls:sys_exit_read", value = "args.ret", min = 0, max = 1000, step = 100 } },
  { "printf_sched", "printf", { "t:sched:sched_switch", "%s -> %s %u\n", "args.prev_comm", "args.next_comm", "cpu" } },
}

for _, c in ipairs(CASES) do
  local name, action, opts = c[1], c[2], c[3]
  local ok, prog = pcall(oneliner.program, action, opts)
  if not ok then error(name .. ": " .. tostring(type(prog) == "table" and prog.message or prog), 0) end
  t.golden(name .. ".bpf.expected", prog.text) -- expected output, not source
end

-- what each kind attaches, by which function: a fake object records the calls
local calls
local fake = setmetatable({}, { __index = function(_, method)
  return function(_, a)
    local args = {}
    for k, v in pairs(a) do args[k] = v end
    calls[#calls + 1] = method .. " " .. t.dump(args):gsub("\n", " ")
  end
end })

local ATTACH = {
  { "count", { "t:syscalls:sys_enter_getppid" }, {} }, -- TRACEPOINT_PROBE attaches as it loads
  { "count", { "t:syscalls:sys_enter_getp*id" }, {
    'attach_tracepoint fn_name="bl_probe" tp="syscalls:sys_enter_getpgid"',
    'attach_tracepoint fn_name="bl_probe" tp="syscalls:sys_enter_getpid"',
    'attach_tracepoint fn_name="bl_probe" tp="syscalls:sys_enter_getppid"' } },
  -- by probe: a function for each tracepoint of the glob
  { "count", { "t:syscalls:sys_enter_getp*id", by = "probe" }, {
    'attach_tracepoint fn_name="bl_probe_1" tp="syscalls:sys_enter_getpgid"',
    'attach_tracepoint fn_name="bl_probe_2" tp="syscalls:sys_enter_getpid"',
    'attach_tracepoint fn_name="bl_probe_3" tp="syscalls:sys_enter_getppid"' } },
  { "count", { "rt:sys_enter" }, { 'attach_raw_tracepoint fn_name="bl_probe" tp="sys_enter"' } },
  { "count", { "u:/bin/true:main" }, { 'attach_uprobe fn_name="bl_probe" name="/bin/true" sym="main"' } },
  { "count", { "ur:c:malloc" }, { 'attach_uretprobe fn_name="bl_probe" name="c" sym="malloc"' } },
  { "count", { "k:vfs_read" }, { 'attach_kprobe event="vfs_read" fn_name="bl_probe"' } },
  { "count", { "kr:vfs_read" }, { 'attach_kretprobe event="vfs_read" fn_name="bl_probe"' } },
  { "count", { "p:hz:49" }, { string.format('attach_perf_event cpu=-1 ev_config=%d ev_type=%d fn_name="bl_probe" ' ..
    'pid=-1 sample_freq=49', BPF.PERF_COUNT_SW_CPU_CLOCK, BPF.PERF_TYPE_SOFTWARE) } },
  -- the stop probe runs bl_probe, the start probe the clock
  { "hist", { "u:c:malloc", to = "ur:c:malloc" }, {
    'attach_uretprobe fn_name="bl_probe" name="c" sym="malloc"',
    'attach_uprobe fn_name="bl_clock" name="c" sym="malloc"' } },
  { "hist", { "t:syscalls:sys_enter_nanosleep", to = "t:syscalls:sys_exit_nanosleep" }, {} },
  { "hist", { "rt:sys_enter", to = "t:syscalls:sys_exit_getp*id" }, {
    'attach_tracepoint fn_name="bl_probe" tp="syscalls:sys_exit_getpgid"',
    'attach_tracepoint fn_name="bl_probe" tp="syscalls:sys_exit_getpid"',
    'attach_tracepoint fn_name="bl_probe" tp="syscalls:sys_exit_getppid"',
    'attach_raw_tracepoint fn_name="bl_clock" tp="sys_enter"' } },
}
for _, c in ipairs(ATTACH) do
  calls = {}
  local prog = oneliner.program(c[1], c[2])
  oneliner.attach_program(fake, prog)
  t.eq(table.concat(calls, "\n"), table.concat(c[3], "\n"), "attach " .. c[2][1])
end

-- the probe a spec names
t.eq(t.dump(oneliner.parse_probe("t:syscalls:sys_enter_getp*id")),
  t.dump({ kind = "tracepoint", spec = "t:syscalls:sys_enter_getp*id",
           targets = { "syscalls:sys_enter_getpgid", "syscalls:sys_enter_getpid", "syscalls:sys_enter_getppid" } }),
  "glob spec")
t.eq(t.dump(oneliner.parse_probe("u:/usr/lib/x:y:sym")),
  t.dump({ kind = "uprobe", spec = "u:/usr/lib/x:y:sym", path = "/usr/lib/x:y", sym = "sym" }), "uprobe spec")
t.eq(t.dump(oneliner.parse_probe("p:hz:99")), t.dump({ kind = "profile", spec = "p:hz:99", hz = 99 }), "profile spec")
t.eq(t.dump(oneliner.parse_probe("kr:vfs_read")), t.dump({ kind = "kretprobe", spec = "kr:vfs_read", fn = "vfs_read" }),
  "kretprobe spec")
t.eq(table.concat(oneliner.probes("t:sched:*"), " "), "tracepoint:sched:sched_process_exec tracepoint:sched:sched_switch",
  "probes()")
local W = os.getenv("BPFLUA_WORKLOAD") or error("BPFLUA_WORKLOAD is not set (run through ctest)")
for _, spec in ipairs({ "u:" .. W .. ":bl_*", "ur:" .. W .. ":bl_*" }) do
  local found = table.concat(oneliner.probes(spec), "\n") .. "\n"
  t.ok(found:find("uprobe:" .. W .. ":bl_burn_cpu\n", 1, true) and found:find("uprobe:" .. W .. ":bl_traced_function\n", 1, true)
    and not found:find(":main\n", 1, true), "probes(" .. spec .. "): the workload's bl_ functions alone, got " .. found)
end
local perr = t.raises("probes(k:)", oneliner.probes, "k:vfs_*")
t.eq(type(perr) == "table" and perr.message,
  "probes() lists tracepoints (\"t:CAT:NAME\" with * and ?) and uprobes (\"u:/PATH:SYMBOL\")", "probes(k:)")

-- errors: the messages users see
local SPEC_HELP = "probe specs: t:CAT:NAME, rt:NAME, u:/PATH:SYMBOL, ur:/PATH:SYMBOL, p:hz:N, k:FUNCTION"
local ERRORS = {
  { "count", 42, "count{} takes a table: count{ \"t:CAT:NAME\", ... }" },
  { "count", {}, "the first item must be a probe spec; " .. SPEC_HELP },
  { "count", { "x:nothing" }, "'x:nothing' is not a probe spec; " .. SPEC_HELP },
  { "count", { "t:getppid" }, "'t:getppid': a tracepoint is CATEGORY:NAME" },
  { "count", { "t:nosuch:*" }, "'t:nosuch:*' matches no tracepoint (probes(\"t:nosuch:*\") lists them)" },
  { "count", { "t:nosuch:tracepoint" }, "no tracepoint nosuch:tracepoint on this kernel (probes(\"t:nosuch:*\") lists similar ones)" },
  { "count", { "u:malloc" }, "'u:malloc': a uprobe is u:/PATH:SYMBOL or u:LIBRARY:SYMBOL" },
  { "count", { "p:fast" }, "'p:fast': a sampling probe is p:hz:FREQUENCY" },
  { "count", { "t:syscalls:sys_enter_read", by = "args.nosuch" },
    "t:syscalls:sys_enter_read has no field 'nosuch'; its fields: __syscall_nr, buf, count, fd" },
  { "count", { "u:c:malloc", by = "args.size" }, "args.size: only tracepoints have named fields (u:c:malloc)" },
  { "count", { "t:syscalls:sys_enter_read", by = "arg0" },
    "unknown key or field 'arg0': use pid, tid, comm, cpu, uid, cgroup, container, probe, stack, ustack, args.NAME" },
  { "count", { "u:c:malloc", by = "retval" },
    "unknown key or field 'retval': use pid, tid, comm, cpu, uid, cgroup, container, probe, stack, ustack, args.NAME, arg0..arg5" },
  { "trace", { "ur:c:malloc", fields = { "bogus" } },
    "unknown key or field 'bogus': use pid, tid, comm, cpu, uid, cgroup, container, probe, stack, ustack, args.NAME, arg0..arg5, retval" },
  { "hist", { "t:syscalls:sys_enter_getppid" },
    "hist{} needs value = \"C expression\" (e.g. \"args.ret\"), or to = PROBE" },
  { "hist", { "t:syscalls:sys_enter_read", to = "t:syscalls:sys_exit_read", unit = "s" }, "unit must be ns, us or ms" },
  { "count", { "t:syscalls:sys_enter_read", by = 3 }, "count{}: by must be a key name or a list of key names, not number" },
  { "trace", { "t:syscalls:sys_enter_read", fields = "args.fd" }, "trace{}: fields must be a list of field names, not string" },
  { "sum", { "t:syscalls:sys_enter_read", value = 1 }, "sum{}: value must be a C expression (a string), not number" },
  { "printf", { "t:syscalls:sys_enter_read", "%d %d\n", "args.fd" },
    "printf{}: the format has 2 conversions but 1 value follows it" },
  { "printf", { "t:syscalls:sys_enter_read", "fd\n", "args.fd" },
    "printf{}: the format has 0 conversions but 1 value follows it" },
  { "printf", { "t:syscalls:sys_enter_read", "%y\n", "args.fd" },
    "printf{}: '%y' at 1 of the format is not a conversion bpftrace knows (%d %i %u %x %X %o %s %c %p, %% for a %)" },
  { "printf", { "t:syscalls:sys_enter_read", "%lq\n", "args.fd" },
    "printf{}: '%lq' at 1 of the format is not a conversion bpftrace knows (%d %i %u %x %X %o %s %c %p, %% for a %)" },
  { "printf", { "t:syscalls:sys_enter_read", "%lllu\n", "args.fd" },
    "printf{}: '%lllu': 'lll' is not a length C knows (h, hh, l, ll, z, j)" },
  { "printf", { "t:syscalls:sys_enter_read", "%s\n", 3 },
    "printf{}: value 1 must be a name or a C expression (a string), not number" },
  { "printf", { "t:syscalls:sys_enter_read", 3 },
    "printf{}: the second item must be the format, a string such as \"%s opened %s\\n\"" },
  { "printf", { "t:syscalls:sys_enter_read", "%s %s\n", "str(args.buf, 200)", "str(args.buf, 200)" },
    "printf{}: its strings take 400 bytes, more than the 320 an event has room for; shorten them with str(EXPR, N)" },
  { "lhist", { "t:syscalls:sys_exit_read", value = "args.ret", min = 0, max = 10 },
    "lhist{}: step must be an integer (lhist{ PROBE, value = \"C\", min = 0, max = 100, step = 10 }), not nil" },
  { "lhist", { "t:syscalls:sys_exit_read", value = "args.ret", min = 0.5, max = 10, step = 1 },
    "lhist{}: min must be an integer (lhist{ PROBE, value = \"C\", min = 0, max = 100, step = 10 }), not number" },
  { "lhist", { "t:syscalls:sys_exit_read", value = "args.ret", min = 0, max = 10, step = 3 },
    "lhist{}: max - min must be a multiple of step" },
  { "lhist", { "t:syscalls:sys_exit_read", value = "args.ret", min = 5, max = 0, step = 1 },
    "lhist{}: max must be greater than min" },
  { "count", { "t:syscalls:sys_exit_read", interval = "1" },
    "count{}: interval must be a number of seconds (more than 0, at most 86400), not 1" },
  { "count", { "t:syscalls:sys_exit_read", interval = 1, clear = 1 }, "count{}: clear must be true or false, not number" },
  { "max", { "t:syscalls:sys_exit_read" }, "max{} needs value = \"C expression\" (e.g. \"args.ret\"), or to = PROBE" },
  { "printf", { "t:syscalls:sys_enter_read", "%s\n", "str(args.buf, 0)" },
    "printf{}: str(args.buf, 0): a string's length is 1 to 256" },
}
for _, c in ipairs(ERRORS) do
  local err = t.raises(c[3], oneliner.program, c[1], c[2])
  t.eq(type(err) == "table" and err.message, c[3], "error")
end

t.done("codegen")
