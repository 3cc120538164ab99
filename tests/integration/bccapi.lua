-- BCC's Python API calls that BCC scripts use, each checked against a
-- workload of known numbers: b["name"], per-section histograms, detach_*
-- and num_open_*, tracepoint_exists, get_syscall_fnname, trace_fields and
-- trace_print over trace_pipe, build-id stacks, and <uapi/linux/ptrace.h>
-- included for a program that reads struct pt_regs without including it.
local t = dofile(arg[0]:match("(.*/)") .. "lib.lua")
local N = 40
-- uprobes fire in every process running the workload, another test's too:
-- this run's trace_printk lines carry this run's pid
local TAG = "bccapi" .. BPF.getpid()

local b = BPF{ text = [[
typedef struct { u32 which; u64 slot; } sect_t;
BPF_HISTOGRAM(sections, sect_t);
BPF_HASH(counts, u32, u64);
BPF_ARRAY(target, u32, 1);
BPF_STACK_TRACE_BUILDID(bstacks, 64);
BPF_HASH(stack_of, u32, int);
TRACEPOINT_PROBE(syscalls, sys_enter_getppid) {
	u32 zero = 0, pid = bpf_get_current_pid_tgid() >> 32;
	u32 *want = target.lookup(&zero);
	if (!want || *want != pid)
		return 0;
	counts.increment(pid);
	sect_t a = { .which = 1, .slot = bpf_log2l(3) };    /* 2 -> 3 */
	sect_t c = { .which = 2, .slot = bpf_log2l(100) };  /* 64 -> 127 */
	sections.increment(a);
	sections.increment(c);
	sections.increment(c);
	return 0;
}
int on_call(struct pt_regs *ctx) {
	u32 pid = bpf_get_current_pid_tgid() >> 32;
	int id = bstacks.get_stackid(ctx, BPF_F_USER_STACK);
	stack_of.update(&pid, &id);
	bpf_trace_printk("]] .. TAG .. [[ %d\n", (int)PT_REGS_PARM1(ctx));
	return 0;
}
]] }

-- runs `workload getppid N` with its pid as the target; returns the pid
local function getppids(n)
  local gate = os.tmpname()
  os.remove(gate)
  local p = io.popen(t.workload .. " getppid " .. n .. " " .. gate, "r")
  local pid = math.tointeger(tonumber(p:read("l")))
  b["target"]:set(0, pid)
  io.open(gate, "w"):close()
  p:read("a")
  p:close()
  os.remove(gate)
  return pid
end

-- b["name"] is b:get_table("name"); other names stay nil
local pid = getppids(N)
t.eq(b["counts"]:get(pid), N, 'b["counts"] after N getppid')
t.eq(b.no_such_table, nil, "a name that is neither a method nor a table")

-- one histogram per section, as BCC's print_log2_hist(val_type, section_header)
local lines, real_print = {}, print
print = function(s) lines[#lines + 1] = s end
b["sections"]:print_log2_hist("value", "which")
print = real_print
local text = table.concat(lines, "\n")
local want = table.concat({
  "", "which = 1",
  "     value               : count     distribution",
  string.format("         0 -> 1          : 0        |%40s|", ""),
  string.format("         2 -> 3          : %-8d |%s|", N, string.rep("*", 40)),
  "", "which = 2",
  "     value               : count     distribution",
}, "\n")
t.eq(text:sub(1, #want), want, "two sections, BCC's layout:\n" .. text)
t.ok(text:find(string.format("\n        64 -> 127        : %-8d |%s|", 2 * N, string.rep("*", 40)), 1, true),
  "section 2 has 2N in 64 -> 127:\n" .. text)
t.eq(select(2, text:gsub("\n", "\n")) + 1, 3 + 2 + 3 + 7, "lines: two headers, 2 + 7 rows")

-- attach and detach, counted as BCC counts them
t.eq(b:num_open_tracepoints(), 1, "auto-attached tracepoint")
t.eq(b:num_open_uprobes(), 0, "no uprobes yet")
t.eq(b:num_open_kprobes(), 0, "no kprobes")
b:attach_uprobe{ name = t.workload, sym = "bl_traced_function", fn_name = "on_call" }
t.eq(b:num_open_uprobes(), 1, "one uprobe")

-- trace_fields: bpf_trace_printk's lines, split as BCC splits them
local upid = t.run("uprobe", 3)
local got = {}
while #got < 3 do
  local task, tpid, cpu, flags, ts, msg = b:trace_fields(5)
  if not task then break end
  if tpid == upid and msg:find("^" .. TAG .. " ") then
    got[#got + 1] = msg
    t.eq(task, "workload", "task of a trace_pipe line")
    t.ok(math.type(cpu) == "integer" and type(ts) == "number" and type(flags) == "string",
      "cpu, ts and flags of a trace_pipe line")
  end
end
t.eq(table.concat(got, ","), string.format("%s 0,%s 1,%s 2", TAG, TAG, TAG), "the uprobe's three trace_printk lines")

-- trace_print with BCC's {N} format, bounded by count
local out = os.tmpname()
local saved = io.output()
local f = io.open(out, "w")
local real_stdout = io.stdout
io.stdout = f
local printed = 0
repeat -- the lines of this run only (other tracers may print too)
  local line = b:trace_fields(0.2)
until line == nil -- drain what came before
upid = t.run("uprobe", 2)
printed = b:trace_print("{1} {5}", { count = 2, timeout = 5 })
io.stdout = real_stdout
f:close()
io.output(saved)
f = io.open(out)
local ptext = f:read("a")
f:close()
os.remove(out)
t.eq(printed, 2, "trace_print printed two lines")
t.eq(ptext, string.format("%d %s 0\n%d %s 1\n", upid, TAG, upid, TAG), "trace_print's lines")

-- the build-id stack of the uprobe's last hit names the function (BCC's add_module)
local id = b["stack_of"]:get(upid)
t.ok(id and id >= 0, "a build-id stack id: " .. tostring(id))
BPF.add_module(t.workload)
local frames = {}
for frame in b["bstacks"]:walk(id) do frames[#frames + 1] = frame end
t.ok(#frames >= 2, "frames in the build-id stack: " .. #frames)
t.eq(frames[1].status, 1, "the first frame has a build id")
t.eq(b:sym(frames[1], upid), "bl_traced_function", "the first frame, by build id")
-- entered at its first instruction, the function has no frame yet: the next
-- frame is main's caller in the C library, unknown until its file is added
local libc = "/lib/x86_64-linux-gnu/libc.so.6"
local rp = io.popen("readelf -n " .. libc)
local libc_id = rp:read("a"):match("Build ID: (%x+)")
rp:close()
t.eq(frames[2].build_id, libc_id, "the caller's build id is the C library's (readelf -n)")
t.eq(b:sym(frames[2], upid), string.format("[buildid %s+0x%x]", libc_id, frames[2].offset),
  "a frame of a file not added: its build id and offset")
BPF.add_module(libc)
-- (__libc_start_call_main where the library keeps its local symbols,
-- __libc_init_first, the nearest exported one, where it does not)
local named = b:sym(frames[2], upid)
t.ok(named:match("^__libc_[%w_]+$"), "the same frame once the C library is added: " .. named)

-- detaching: the probe stops counting, the counts say so
b:detach_uprobe{ name = t.workload, sym = "bl_traced_function" }
t.eq(b:num_open_uprobes(), 0, "uprobe detached")
local ok, err = pcall(b.detach_uprobe, b, { name = t.workload, sym = "bl_traced_function" })
t.ok(not ok and err:find("not attached"), "detaching twice: " .. tostring(err))
local hits = #b["stack_of"]:keys()
t.run("uprobe", 5)
t.eq(#b["stack_of"]:keys(), hits, "no uprobe hits after detach_uprobe")
b:detach_tracepoint{ tp = "syscalls:sys_enter_getppid" }
t.eq(b:num_open_tracepoints(), 0, "tracepoint detached")
pid = getppids(N)
t.eq(b["counts"]:get(pid), nil, "no counts after detach_tracepoint")

-- names of the kernel's: referee /proc/kallsyms
t.eq(BPF.tracepoint_exists("syscalls", "sys_enter_getppid"), true, "tracepoint_exists")
t.eq(b:tracepoint_exists("syscalls", "sys_enter_no_such"), false, "tracepoint_exists, missing")
local fn = b:get_syscall_fnname("getppid")
local kallsyms = io.open("/proc/kallsyms"):read("a")
t.ok(kallsyms:find(" " .. fn .. "\n", 1, true), "get_syscall_fnname gives a kernel symbol: " .. fn)
b:cleanup()
t.done("bccapi")
