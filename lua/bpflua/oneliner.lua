-- One-liners: count, sum, avg, hist and trace write the BPF C for the
-- common cases, so a probe needs no C at all:
--
--   count{ "t:syscalls:sys_enter_openat", by = "comm" }
--   hist{ "t:syscalls:sys_exit_read", value = "args.ret", filter = "args.ret > 0" }
--   trace{ "u:c:malloc", fields = { "arg0" } }
--
-- Probe specs are bpftrace's: tracepoint:cat:name (t:), raw_tracepoint:name
-- (rt:), uprobe:/path:sym (u:, a library name such as c works too),
-- uretprobe: (ur:), profile:hz:99 (p:), kprobe:fn (k:), kretprobe:fn (kr:).
-- Keys (by) and trace fields: pid, tid, comm, cpu, uid, cgroup, container, probe,
-- stack, ustack, args.NAME (tracepoint fields), arg0..arg5 and retval (u/k
-- probes). cgroup = PATH counts only that cgroup's processes; pid = N only
-- that process, and with children = true the ones it starts too.
-- filter and value are C expressions over the same names (args.x or args->x).
-- to = PROBE times from the first probe to the second, per thread:
--   hist{ "t:syscalls:sys_enter_nanosleep", to = "t:syscalls:sys_exit_nanosleep" }
-- (value defaults to `elapsed`, in unit = "us"; "ns" and "ms" work too).
-- printf{ PROBE, "FORMAT", EXPR, ... } prints a line per event with
-- bpftrace's formats (bpflua/printf.lua); min, max, stats and lhist
-- aggregate as bpftrace's do; BEGIN, END and interval run Lua around them.
local hist = require("bpflua.hist")
local probe = require("bpflua.probe")
local events = require("bpflua.events")
local stacks = require("bpflua.stacks")
local cgroups = require("bpflua.cgroups")
local printf = require("bpflua.printf")

local M = {}

-- handles that are still attached, in creation order
M.active = {}

local SPEC_HELP = "probe specs: t:CAT:NAME, rt:NAME, u:/PATH:SYMBOL, ur:/PATH:SYMBOL, p:hz:N, k:FUNCTION"

local function fail(msg)
  error(BPF.error("failed", msg), 0)
end

-- Where tracepoint lists and formats are read: tracefs, or a directory of
-- the same shape a test gives, so the generator runs without a kernel.
M.tracefs_dir = nil

local function tracefs()
  if M.tracefs_dir then return M.tracefs_dir end
  local dir = BPF.features().tracefs
  if not dir then fail("tracefs is not mounted and could not be mounted; `bpflua doctor` says why") end
  return dir
end

local function glob_to_pattern(g)
  return "^" .. g:gsub("[%^%$%(%)%%%.%[%]%+%-]", "%%%0"):gsub("%*", ".*"):gsub("%?", ".") .. "$"
end

-- Every "cat:name" tracepoint matching a glob.
function M.tracepoints(glob)
  local pat = glob_to_pattern(glob)
  local out = {}
  local f = io.open(tracefs() .. "/available_events", "r")
  if not f then return out end
  for line in f:lines() do
    if line:match(pat) then out[#out + 1] = line end
  end
  f:close()
  table.sort(out)
  return out
end

-- A tracepoint's fields, from its format file: name -> C type text.
local function tracepoint_fields(target)
  local cat, name = target:match("^([^:]+):(.+)$")
  local f = io.open(tracefs() .. "/events/" .. cat .. "/" .. name .. "/format", "r")
  if not f then
    return nil
  end
  local fields = {}
  for line in f:lines() do
    local decl = line:match("^%s*field:([^;]+);")
    if decl and not decl:find("common_") then
      local fname = decl:match("([%w_]+)%s*%[[^%]]*%]%s*$") or decl:match("([%w_]+)%s*$")
      if fname then fields[fname] = decl end
    end
  end
  f:close()
  return fields
end

-- the functions in an ELF file matching PATH:GLOB, as uprobe specs
local function list_uprobes(rest)
  local path, sym = rest:match("^(.+):([^:]*)$")
  path = path or rest
  local pat = glob_to_pattern((sym and sym ~= "") and sym or "*")
  local out = {}
  for _, s in ipairs(BPF.elf_functions(path)) do
    if s:match(pat) then out[#out + 1] = "uprobe:" .. path .. ":" .. s end
  end
  table.sort(out)
  return out
end

-- What the pt_regs kinds (uprobe, kprobe and their returns) share: their
-- arguments are registers, and a return probe has the return value.
local REG_ARGS = {}
for i = 0, 5 do REG_ARGS[#REG_ARGS + 1] = string.format("\tu64 arg%d = PT_REGS_PARM%d(ctx);", i, i + 1) end
local RETVAL = "\ts64 retval = PT_REGS_RC(ctx);"

local function regs_kind(kind)
  kind.ctx = "struct pt_regs *ctx"
  kind.prepare = function(p)
    p.regs, p.regs_args = "ctx", true
    p.retval = kind.ret or false
  end
  kind.preamble = kind.ret and { table.unpack(REG_ARGS) } or REG_ARGS
  if kind.ret then kind.preamble[#kind.preamble + 1] = RETVAL end
  return kind
end

local function uprobe_spec(p, rest)
  local path, sym = rest:match("^(.+):([^:]+)$")
  if not path then fail(string.format("'%s': a uprobe is u:/PATH:SYMBOL or u:LIBRARY:SYMBOL", p.spec)) end
  p.path, p.sym = path, sym
end

local function kprobe_spec(p, rest)
  p.fn = rest
end

local RAW_ARGS = {}
for i = 0, 5 do RAW_ARGS[#RAW_ARGS + 1] = string.format("\tu64 arg%d = ctx->args[%d];", i, i) end

-- Probe kinds as data, as bpftrace's PROBE_LIST: each says
--   short     the spec prefix (t:, rt:, ...)
--   spec      reads what follows the prefix into the probe table p
--   prepare   sets how the C reaches the context: p.regs (for stacks and
--             perf_submit), p.fields (tracepoint formats), p.regs_args, p.retval
--   ctx       the C function's parameter; header() where that is not enough
--   preamble  C lines naming the probe's own values (arg0.., retval)
--   submit    the context perf_submit takes, where it is not p.regs
--   attach    attaches function fn of object b (fn is nil when the
--             program attaches itself as it loads)
--   list      what probes() lists for a glob
local KINDS = {
  tracepoint = {
    short = "t",
    spec = function(p, rest)
      if not rest:find(":") then fail(string.format("'%s': a tracepoint is CATEGORY:NAME", p.spec)) end
      p.targets = rest:find("[*?]") and M.tracepoints(rest) or { rest }
      if #p.targets == 0 then
        fail(string.format("'%s' matches no tracepoint (probes(\"t:%s\") lists them)", p.spec, rest))
      end
    end,
    prepare = function(p)
      p.regs = "args"
      if #p.targets == 1 then
        p.fields = tracepoint_fields(p.targets[1])
        if not p.fields then
          fail(string.format("no tracepoint %s on this kernel (probes(\"t:%s*\") lists similar ones)",
            p.targets[1], p.targets[1]:match("^[^:]+:") or ""))
        end
      end
      p.user_strings = p.targets[1]:match("^syscalls:") ~= nil
    end,
    -- one tracepoint: a TRACEPOINT_PROBE, which attaches by its name
    header = function(p, fn)
      if #p.targets > 1 then return "int " .. fn .. "(void *args)", fn end
      local cat, name = p.targets[1]:match("^([^:]+):(.+)$")
      return string.format("TRACEPOINT_PROBE(%s, %s)", cat, name), nil
    end,
    attach = function(b, p, fn)
      if not fn then return end
      for i, tp in ipairs(p.targets) do b:attach_tracepoint{ tp = tp, fn_name = p.per_target and (fn .. "_" .. i) or fn } end
    end,
    list = function(rest)
      local out = {}
      for i, tp in ipairs(M.tracepoints(rest)) do out[i] = "tracepoint:" .. tp end
      return out
    end,
  },
  raw_tracepoint = {
    short = "rt",
    spec = function(p, rest) p.targets = { rest } end,
    prepare = function(p) p.regs = "ctx" end,
    ctx = "struct bpf_raw_tracepoint_args *ctx",
    preamble = RAW_ARGS,
    attach = function(b, p, fn) b:attach_raw_tracepoint{ tp = p.targets[1], fn_name = fn } end,
  },
  uprobe = regs_kind {
    short = "u",
    spec = uprobe_spec,
    attach = function(b, p, fn) b:attach_uprobe{ name = p.path, sym = p.sym, fn_name = fn } end,
    list = list_uprobes,
  },
  uretprobe = regs_kind {
    short = "ur", ret = true,
    spec = uprobe_spec,
    attach = function(b, p, fn) b:attach_uretprobe{ name = p.path, sym = p.sym, fn_name = fn } end,
    list = list_uprobes,
  },
  kprobe = regs_kind {
    short = "k",
    spec = kprobe_spec,
    attach = function(b, p, fn) b:attach_kprobe{ event = p.fn, fn_name = fn } end,
  },
  kretprobe = regs_kind {
    short = "kr", ret = true,
    spec = kprobe_spec,
    attach = function(b, p, fn) b:attach_kretprobe{ event = p.fn, fn_name = fn } end,
  },
  profile = {
    short = "p",
    spec = function(p, rest)
      local hz = rest:match("^hz:(%d+)$") or rest:match("^(%d+)$")
      if not hz then fail(string.format("'%s': a sampling probe is p:hz:FREQUENCY", p.spec)) end
      p.hz = tonumber(hz)
    end,
    prepare = function(p) p.regs = "&ctx->regs" end,
    ctx = "struct bpf_perf_event_data *ctx",
    submit = "ctx",
    attach = function(b, p, fn)
      b:attach_perf_event{ ev_type = BPF.PERF_TYPE_SOFTWARE, ev_config = BPF.PERF_COUNT_SW_CPU_CLOCK,
                           sample_freq = p.hz, pid = -1, cpu = -1, fn_name = fn }
    end,
  },
}
KINDS.usdt = require("bpflua.usdt").kind -- usdt:PATH:[PROVIDER:]NAME (U:), lua/bpflua/usdt.lua

-- spec prefix, long or short -> kind name
local PREFIXES = {}
for name, kind in pairs(KINDS) do
  PREFIXES[name], PREFIXES[kind.short] = name, name
end

local function kind_of(p)
  return KINDS[p.kind]
end

function M.parse_probe(spec)
  if type(spec) ~= "string" then fail("the first item must be a probe spec; " .. SPEC_HELP) end
  local prefix, rest = spec:match("^([%a_]+):(.+)$")
  local kind = prefix and PREFIXES[prefix]
  if not kind then fail(string.format("'%s' is not a probe spec; %s", spec, SPEC_HELP)) end
  local p = { kind = kind, spec = spec }
  KINDS[kind].spec(p, rest)
  return p
end

-- C for one key or trace field: { decl = "u32 pid", set = "k.pid = pid;", kind = ... }
local function field_code(p, name, var)
  local fields = p.fields
  local c = name:gsub("[^%w_]", "_")
  if name == "pid" or name == "tid" or name == "cpu" or name == "uid" then
    return { c = c, decl = "u32 " .. c, set = string.format("%s.%s = %s;", var, c, name), kind = "int" }
  elseif name == "probe" then
    -- the tracepoints of a glob: a function each, calling one body with
    -- their number (the record's own event id is not there to read: the
    -- kernel keeps its pt_regs pointer in those bytes); other kinds: one
    if p.kind == "tracepoint" and #p.targets > 1 then p.per_target = true end
    local set = string.format(p.per_target and "%s.probe = __probe;" or "%s.probe = 0;", var)
    return { c = c, decl = "u32 probe", set = set, kind = "probe" }
  elseif name == "cgroup" or name == "container" then
    return { c = c, decl = "u64 " .. c, set = string.format("%s.%s = bpf_get_current_cgroup_id();", var, c), kind = name }
  elseif name == "comm" then
    return { c = c, decl = "char comm[16]", set = string.format("bpf_get_current_comm(&%s.comm, sizeof(%s.comm));", var, var),
             kind = "str" }
  elseif name == "stack" or name == "ustack" then
    local flags = name == "ustack" and "BPF_F_USER_STACK" or "0"
    return { c = c, decl = "s32 " .. c, set = string.format("%s.%s = stacks.get_stackid(%s, %s);", var, c, p.regs, flags),
             kind = name, stacks = true }
  elseif name:match("^arg[0-5]$") and p.regs_args then
    return { c = c, decl = "u64 " .. c, set = string.format("%s.%s = %s;", var, c, name), kind = "int" }
  elseif name == "retval" and p.retval then
    return { c = c, decl = "s64 retval", set = string.format("%s.retval = retval;", var), kind = "int" }
  end
  local field = name:match("^args[%.%-]>?([%w_]+)$")
  if field and fields then
    local decl = fields[field]
    if not decl then
      local names = {}
      for k in pairs(fields) do names[#names + 1] = k end
      table.sort(names)
      fail(string.format("%s has no field '%s'; its fields: %s", p.spec, field, table.concat(names, ", ")))
    end
    if decl:find("__data_loc") then
      return { c = c, decl = "char " .. c .. "[64]",
               set = string.format("TP_DATA_LOC_READ_STR(&%s.%s, %s, sizeof(%s.%s));", var, c, field, var, c), kind = "str" }
    elseif decl:find("char%s*%*") then
      local read = p.user_strings and "bpf_probe_read_user_str" or "bpf_probe_read_kernel_str"
      return { c = c, decl = "char " .. c .. "[64]",
               set = string.format("%s(&%s.%s, sizeof(%s.%s), (void *)args->%s);", read, var, c, var, c, field), kind = "str" }
    elseif decl:find("char%s+[%w_]+%s*%[") then
      local n = decl:match("%[(%d+)%]") or "16"
      return { c = c, decl = "char " .. c .. "[" .. n .. "]",
               set = string.format("__builtin_memcpy(&%s.%s, args->%s, %s);", var, c, field, n), kind = "str" }
    end
    local signed = not decl:find("unsigned") and not decl:find("u%d") and not decl:find("size_t")
    return { c = c, decl = (signed and "s64 " or "u64 ") .. c, set = string.format("%s.%s = args->%s;", var, c, field),
             kind = "int" }
  end
  if field then fail(string.format("args.%s: only tracepoints have named fields (%s)", field, p.spec)) end
  fail(string.format("unknown key or field '%s': use pid, tid, comm, cpu, uid, cgroup, container, probe, stack, ustack, args.NAME%s", name,
    p.regs_args and ", arg0..arg5" .. (p.retval and ", retval" or "") or ""))
end

-- C expressions: args.x is args->x
local function c_expr(s)
  return (s:gsub("args%.([%a_])", "args->%1"))
end

-- The C function a probe runs: a named function attached explicitly, unless
-- the kind says otherwise.
local function function_header(p, fn)
  local kind = kind_of(p)
  if kind.header then return kind.header(p, fn) end
  return "int " .. fn .. "(" .. kind.ctx .. ")", fn
end

local UNITS = { ns = 1, us = 1000, ms = 1000000 }

-- Who is counted is probes/config.h's bl_wanted(), as in the tracers: not
-- bpflua itself; with pid (and children) or cgroup, only those processes.
-- Probes named by macro attach as the object loads, so until the config is
-- set (right after) nothing counts.
local PREAMBLE = [[
	u64 __id = bpf_get_current_pid_tgid();
	u32 pid = __id >> 32, tid = (u32)__id;
	u32 cpu = bpf_get_smp_processor_id();
	u32 uid = (u32)bpf_get_current_uid_gid();
	if (!bl_wanted())
		return 0;
]]
-- only when a filter names it: reading comm costs a helper call per event
local COMM = "\tchar comm[16];\n\tbpf_get_current_comm(&comm, sizeof(comm));"

local HELPERS = [[
#include <uapi/linux/bpf_perf_event.h>
/* comm_is("name") in filters */
#define comm_is(s) bl_streq(comm, s, sizeof(s))
static __always_inline int bl_streq(const char *a, const char *b, int n)
{
#pragma unroll
	for (int i = 0; i < 16; i++) {
		if (i >= n)
			return 1;
		if (a[i] != b[i])
			return 0;
	}
	return 1;
}
]]

local OPTION_TYPES = { by = "a key name or a list of key names", fields = "a list of field names",
                       filter = "a C expression (a string)", value = "a C expression (a string)",
                       name = "a string", unit = "ns, us or ms", to = "a probe spec",
                       cgroup = "a cgroup v2 directory (a string)" }

local function is_name_list(v)
  if type(v) ~= "table" then return false end
  for _, x in ipairs(v) do if type(x) ~= "string" then return false end end
  return true
end

-- Options of the wrong type are named, not met later as "attempt to index".
local function check_options(action, opts)
  for k, want in pairs(OPTION_TYPES) do
    local v = opts[k]
    local ok = v == nil or type(v) == "string" or ((k == "by" or k == "fields") and is_name_list(v))
    if k == "fields" and type(v) == "string" then ok = false end
    if not ok then fail(string.format("%s{}: %s must be %s, not %s", action, k, want, type(v))) end
  end
  local pid = opts.pid
  if pid ~= nil and not (math.type(pid) == "integer" and pid > 0 and pid <= 4194304) then
    fail(string.format("%s{}: pid must be a process id (an integer from 1 to 4194304), not %s", action, tostring(pid)))
  end
  if opts.children ~= nil and type(opts.children) ~= "boolean" then
    fail(string.format("%s{}: children must be true or false, not %s", action, type(opts.children)))
  end
  if opts.children and not pid then fail(action .. "{}: children = true follows the processes pid = N starts; give pid") end
  local iv = opts.interval
  if iv ~= nil and not (type(iv) == "number" and iv > 0 and iv <= 86400) then
    fail(string.format("%s{}: interval must be a number of seconds (more than 0, at most 86400), not %s", action, tostring(iv)))
  end
  if opts.clear ~= nil and type(opts.clear) ~= "boolean" then
    fail(string.format("%s{}: clear must be true or false, not %s", action, type(opts.clear)))
  end
  if opts.clear and not iv then fail(action .. "{}: clear = true empties the map after each interval; give interval = SECONDS") end
end

-- The keys a map is keyed by (opts.by); a user stack means nothing
-- without its process, so it brings the pid along, unprinted.
local function gen_keys(p, opts)
  local by = opts.by
  if type(by) == "string" then by = { by } end
  local keys = {}
  for i, name in ipairs(by or {}) do keys[i] = field_code(p, name, "k") end
  local has_pid, has_ustack = false, false
  for _, k in ipairs(keys) do
    has_pid = has_pid or k.c == "pid"
    has_ustack = has_ustack or k.kind == "ustack"
  end
  if has_ustack and not has_pid then
    keys[#keys + 1] = field_code(p, "pid", "k")
    keys[#keys].hidden = true
  end
  return keys
end

-- What trace{} prints for each event: pid and comm, then opts.fields.
local function gen_trace_fields(action, p, opts)
  if action ~= "trace" then return {} end
  local list = { "pid", "comm" }
  for _, f in ipairs(opts.fields or {}) do
    if f ~= "pid" and f ~= "comm" then list[#list + 1] = f end
  end
  local fields = {}
  for i, name in ipairs(list) do fields[i] = field_code(p, name, "e") end
  return fields
end

-- printf{}'s values, one per conversion: a key or field name as trace{}
-- takes it, str(EXPR[, N]) for the string at a user or kernel address, or
-- any C expression (as a signed 64-bit number). A name used twice is read
-- once.
local STR_MAX = 256
local function gen_printf_fields(p, opts, fmt)
  local fields, by_name, str_bytes = {}, {}, 0
  for i = 1, fmt.count do
    local expr = opts[i + 2]
    local c = "v" .. i
    local f
    local inner, n = printf.str_call(expr)
    if inner then
      if n < 1 or n > STR_MAX then fail(string.format("printf{}: %s: a string's length is 1 to %d", expr, STR_MAX)) end
      str_bytes = str_bytes + n
      -- user memory first: a kernel address is not a user one, and
      -- bpf_probe_read_user_str() fails on it, so then the kernel's
      local src = "(const void *)(" .. c_expr(inner) .. ")"
      f = { c = c, decl = "char " .. c .. "[" .. n .. "]", kind = "str",
            set = string.format("if (bpf_probe_read_user_str(&e.%s, sizeof(e.%s), %s) < 0)\n" ..
                                "\t\tbpf_probe_read_kernel_str(&e.%s, sizeof(e.%s), %s);", c, c, src, c, c, src) }
    elseif by_name[expr] then
      f = by_name[expr]
    elseif expr:match("^[%a_][%w_]*$") and (expr ~= "elapsed" and expr ~= "v") or expr:match("^args[%.%-]>?[%w_]+$") then
      f = field_code(p, expr, "e")
      if f.kind == "str" then str_bytes = str_bytes + tonumber(f.decl:match("%[(%d+)%]")) end
      by_name[expr] = f
    else
      f = { c = c, decl = "s64 " .. c, set = string.format("e.%s = (s64)(%s);", c, c_expr(expr)), kind = "int" }
    end
    if not f.listed then
      f.listed = true
      fields[#fields + 1] = f
    end
    fmt.sources[i], fmt.kinds[i] = f.c, f.kind
  end
  -- the event is built on the BPF stack, 512 bytes in all
  if str_bytes > 320 then
    fail(string.format("printf{}: its strings take %d bytes, more than the 320 an event has room for; " ..
      "shorten them with str(EXPR, N)", str_bytes))
  end
  return fields
end

local function decls(list)
  local out = {}
  for _, f in ipairs(list) do out[#out + 1] = "\t" .. f.decl .. ";" end
  return out
end

-- The maps: a stack table if a key or field wants one, then the aggregation's
-- key and values, or trace{}'s event and its buffer.
local function gen_maps(w, action, keys, fields)
  local uses_stacks = false
  for _, k in ipairs(keys) do uses_stacks = uses_stacks or k.stacks end
  for _, k in ipairs(fields) do uses_stacks = uses_stacks or k.stacks end
  if uses_stacks then w("BPF_STACK_TRACE(stacks, 8192);") end
  if action == "trace" or action == "printf" then
    w("struct event {\n\tu64 ts;\n" .. table.concat(decls(fields), "\n") .. "\n};")
    w("#ifdef BL_RINGBUF\nBPF_RINGBUF_OUTPUT(events, 256);\n#else\nBPF_PERF_OUTPUT(events);\n#endif")
    w("BPF_PERCPU_ARRAY(events_lost, u64, 1);")
    w(probe.header("submit.h")) -- bl_submit(), as the tracers' snippets have it
    return
  end
  local key_decls = decls(keys)
  if #keys == 0 then key_decls[1] = "\tu32 none;" end
  if action == "hist" or action == "lhist" then key_decls[#key_decls + 1] = "\ts32 slot;" end
  w("struct key_t {\n" .. table.concat(key_decls, "\n") .. "\n};")
  if action == "avg" or action == "stats" then
    w("struct avg_t { u64 sum; u64 count; };")
    w("BPF_HASH(values, struct key_t, struct avg_t, 10240);")
  elseif action == "min" or action == "max" then
    -- per CPU: a compare and a store race on a shared value; user space
    -- merges the CPUs' values, those that saw the key (seen > 0)
    w("struct minmax_t { s64 value; u64 seen; };")
    w("BPF_PERCPU_HASH(values, struct key_t, struct minmax_t, 10240);")
  else
    w("BPF_HASH(values, struct key_t, u64, 10240);")
  end
end

-- With to =: the first probe's function starts a clock per thread; the
-- second's reads it as `elapsed`. Returns the clock's function name and the
-- unit's divisor.
local function gen_clock(w, start, opts)
  local unit = UNITS[opts.unit or "us"]
  if not unit then fail("unit must be ns, us or ms") end
  w("BPF_TABLE(\"lru_hash\", u32, u64, bl_start, 65536);")
  local header, fn = function_header(start, "bl_clock")
  w(header .. "\n{\n\tu32 tid = (u32)bpf_get_current_pid_tgid();\n\tu64 now = bpf_ktime_get_ns();\n" ..
    "\tbl_start.update(&tid, &now);\n\treturn 0;\n}")
  return fn, unit
end


-- What the action does with each event that passes the filter.
local function gen_action(w, action, p, opts, keys, fields, timed)
  if action == "trace" or action == "printf" then
    w("\tstruct event e = {};\n\te.ts = bpf_ktime_get_ns();")
    for _, f in ipairs(fields) do w("\t" .. f.set) end
    w(string.format("\tbl_submit(%s, &e);", kind_of(p).submit or p.regs))
    return
  end
  w("\tstruct key_t k = {};")
  for _, k in ipairs(keys) do w("\t" .. k.set) end
  -- Shared hash: libbcc's increment() is a plain read-modify-write, and
  -- its first insert (BPF_NOEXIST) drops the loser's count when two CPUs
  -- meet a new key; try_init then an atomic add loses nothing.
  local function add(n)
    w("\tu64 __zero = 0, *__v = values.lookup_or_try_init(&k, &__zero);\n\tif (__v)\n\t\t__sync_fetch_and_add(__v, " .. n .. ");")
  end
  if action == "count" then
    add("1")
    return
  end
  local value = opts.value or (timed and "elapsed")
  if not value then fail(action .. "{} needs value = \"C expression\" (e.g. \"args.ret\"), or to = PROBE") end
  w("\tu64 v = (u64)(" .. c_expr(value) .. ");")
  if action == "sum" then
    add("v")
  elseif action == "hist" then
    -- negative values get a row of their own (slot -1), as bpftrace's (..., 0)
    w("\tk.slot = (s64)v < 0 ? -1 : bpf_log2l(v);")
    add("1")
  elseif action == "lhist" then
    -- slot 0 below min, 1..n the steps, n + 1 from max on, as bpftrace's
    local l = opts.lhist
    w(string.format("\tif ((s64)v < %d)\n\t\tk.slot = 0;\n\telse if ((s64)v >= %d)\n\t\tk.slot = %d;\n" ..
      "\telse\n\t\tk.slot = (u64)((s64)v - %d) / %d + 1;", l.min, l.max, l.buckets + 1, l.min, l.step))
    add("1")
  elseif action == "min" or action == "max" then
    w("\tstruct minmax_t __none = {}, *m = values.lookup_or_try_init(&k, &__none);\n" ..
      string.format("\tif (m && (!m->seen || (s64)v %s m->value))\n\t\tm->value = (s64)v;\n", action == "min" and "<" or ">") ..
      "\tif (m)\n\t\tm->seen++;")
  else
    w("\tstruct avg_t zero = {};\n\tstruct avg_t *a = values.lookup_or_try_init(&k, &zero);\n" ..
      "\tif (a) {\n\t\t__sync_fetch_and_add(&a->sum, v);\n\t\t__sync_fetch_and_add(&a->count, 1);\n\t}")
  end
end

-- The probe's function: who is running, the clock's reading, the kind's own
-- values, the filter, then the action.
local function gen_function(w, action, p, opts, keys, fields, unit)
  local header, fn = function_header(p, "bl_probe")
  if p.per_target then header = "static __always_inline int bl_probe_body(void *args, u32 __probe)" end
  w(header .. "\n{")
  w(PREAMBLE)
  if unit then
    w("\tu64 *t0 = bl_start.lookup(&tid);\n\tif (!t0)\n\t\treturn 0;\n" ..
      string.format("\tu64 elapsed = (bpf_ktime_get_ns() - *t0) / %d;\n", unit) .. "\tbl_start.delete(&tid);")
  end
  for _, line in ipairs(kind_of(p).preamble or {}) do w(line) end
  if opts.filter then
    if opts.filter:find("comm") then w(COMM) end
    w("\tif (!(" .. c_expr(opts.filter) .. "))\n\t\treturn 0;")
  end
  gen_action(w, action, p, opts, keys, fields, unit ~= nil)
  w("\treturn 0;\n}")
  if p.per_target then
    for i in ipairs(p.targets) do
      w(string.format("int %s_%d(void *args)\n{\n\treturn bl_probe_body(args, %d);\n}", fn, i, i))
    end
  end
  return fn
end

-- Builds the program for an action ("count", "sum", "avg", "hist" or
-- "trace") over probe p: { text, fn, start_fn, keys, fields }. With a stop
-- probe (opts.to), p starts a clock per thread and the stop probe, where keys,
-- filter and value apply, reads it as `elapsed`, in opts.unit.
local function generate(action, p, opts, stop_probe)
  kind_of(p).prepare(p)
  if stop_probe then kind_of(stop_probe).prepare(stop_probe) end
  local main = stop_probe or p
  local prog = { keys = gen_keys(main, opts), fields = gen_trace_fields(action, main, opts) }
  if action == "printf" then prog.fields = gen_printf_fields(main, opts, opts.format) end
  local out = { HELPERS, '#include "config.h"' }
  local function w(s) out[#out + 1] = s end
  gen_maps(w, action, prog.keys, prog.fields)
  local unit
  if stop_probe then prog.start_fn, unit = gen_clock(w, p, opts) end
  prog.fn = gen_function(w, action, main, opts, prog.keys, prog.fields, unit)
  prog.text = table.concat(out, "\n")
  return prog
end

-- Attaches a generated program's probes to its loaded object b: with a
-- stop probe, that one runs fn and the first probe starts the clock.
function M.attach_program(b, prog)
  if prog.stop_probe then kind_of(prog.stop_probe).attach(b, prog.stop_probe, prog.fn) end
  kind_of(prog.probe).attach(b, prog.probe, prog.stop_probe and prog.start_fn or prog.fn)
end

local Handle = {}
Handle.__index = Handle
local value_text

-- addresses: each frame with its address too, where names alone collide
local function stack_text(h, id, pid, user, addresses)
  if id < 0 then return "[no stack]" end
  local frames = user and h.res:user_frames(pid, id) or h.res:kernel_frames(id)
  local shown, ips = {}, {}
  if addresses then
    for ip in h.res.t:walk(id) do ips[#ips + 1] = ip end
  end
  for i, f in ipairs(frames) do
    shown[i] = BPF.printable(f) .. (ips[i] and string.format(" 0x%x", ips[i]) or "")
  end
  return table.concat(shown, "\n\t")
end

local function cgroup_text(kind, id)
  local path = cgroups.path(id)
  if kind == "container" then return cgroups.label(path) end
  return path or tostring(id)
end

-- user stacks are resolved while their processes live (bpflua/stacks.lua)
local function resolve_stacks(h)
  if not h.res or not h.values or h.closed then return end
  for k in h.values:items() do
    for _, f in ipairs(h.keys) do
      if f.kind == "ustack" and k[f.c] >= 0 then h.res:user_frames(k.pid, k[f.c]) end
    end
  end
end

-- A key as text. detail tells apart keys that would print the same: 1
-- shows the pid a user stack brought along, 2 each frame's address.
local function key_text(h, k, detail)
  if #h.keys == 0 then return nil end
  local parts = {}
  for _, f in ipairs(h.keys) do
    local v = k[f.c]
    if f.kind == "stack" then
      v = "\n\t" .. stack_text(h, v, nil, false, detail >= 2) .. "\n"
    elseif f.kind == "ustack" then
      v = "\n\t" .. stack_text(h, v, k.pid, true, detail >= 2) .. "\n"
    elseif f.kind == "cgroup" or f.kind == "container" then
      v = BPF.printable(cgroup_text(f.kind, v))
    elseif f.kind == "probe" then
      v = h.probe_names[v] or ("probe " .. v)
    elseif type(v) == "string" then
      v = BPF.printable(v)
    end
    if not f.hidden then
      parts[#parts + 1] = tostring(v)
    elseif detail >= 1 then
      parts[#parts + 1] = f.c .. " " .. tostring(v)
    end
  end
  return table.concat(parts, ", ")
end

-- what makes a key itself (a histogram's slot aside): rows of one identity
-- are one row; rows of different ones merge only where no detail tells
-- them apart (strings equal up to their NUL, cgroups in one container)
local function identity(h, k)
  local parts = {}
  for _, f in ipairs(h.keys) do parts[#parts + 1] = tostring(k[f.c]) end
  return table.concat(parts, "\0")
end

local function add_value(action, r, k, v)
  if action == "min" or action == "max" then
    for _, c in ipairs(v) do
      if c.seen > 0 then
        if not r.seen or (action == "min" and c.value < r.value) or (action == "max" and c.value > r.value) then
          r.value = c.value
        end
        r.seen = true
      end
    end
  elseif action == "hist" or action == "lhist" then
    r.buckets[k.slot] = (r.buckets[k.slot] or 0) + v
    r.value = r.value + v
  elseif action == "avg" or action == "stats" then
    r.sum, r.count = r.sum + v.sum, r.count + v.count
    r.value = r.count > 0 and r.sum // r.count or 0
  else
    r.value = r.value + v
  end
end

-- The aggregation as rows: { key = {field = value}, value = n } (hist:
-- buckets = {slot = count}); sorted by value, as bpftrace prints. Keys
-- that print the same are told apart by their pid, then their stacks'
-- addresses; what still prints the same is one row, its counts, sums and
-- averages combined.
function Handle:read()
  if self.reader then return {} end
  local groups, order = {}, {}
  for k, v in self.values:items() do
    local id = identity(self, k)
    local g = groups[id]
    if not g then
      g = { key = k, pairs = {} }
      groups[id] = g
      order[#order + 1] = g
    end
    g.pairs[#g.pairs + 1] = { k, v }
  end
  -- texts at the least detail that keeps different identities apart
  local function texts(list, detail)
    local by = {}
    for _, g in ipairs(list) do
      g.text = key_text(self, g.key, detail) or ""
      by[g.text] = by[g.text] or {}
      table.insert(by[g.text], g)
    end
    return by
  end
  local pending = order
  for detail = 0, 2 do
    local by, again = texts(pending, detail), {}
    if detail < 2 then
      for _, list in pairs(by) do
        if #list > 1 then
          for _, g in ipairs(list) do again[#again + 1] = g end
        end
      end
    end
    pending = again
    if #pending == 0 then break end
  end
  local rows, by_text = {}, {}
  for _, g in ipairs(order) do
    local r = by_text[g.text]
    if not r then
      r = { key = g.key, text = g.text, value = 0, sum = 0, count = 0, buckets = {} }
      by_text[g.text] = r
      rows[#rows + 1] = r
    end
    for _, kv in ipairs(g.pairs) do add_value(self.action, r, kv[1], kv[2]) end
  end
  table.sort(rows, function(a, b)
    if a.value ~= b.value then return a.value < b.value end
    return a.text < b.text
  end)
  for _, r in ipairs(rows) do
    if self.action ~= "stats" then r.sum, r.count = nil, nil end
    r.seen = nil
  end
  return rows
end

-- A linear histogram as bpftrace draws it: from the first bucket with a
-- count to the last, a bar of up to 52 @ scaled to the largest.
local function lhist_lines(buckets, l)
  local first, last, top = nil, nil, 0
  for slot = 0, l.buckets + 1 do
    local n = buckets[slot] or 0
    if n > 0 then
      first, last = first or slot, slot
      top = math.max(top, n)
    end
  end
  local out = {}
  if not first then return out end
  for slot = first, last do
    local n = buckets[slot] or 0
    local label
    if slot == 0 then
      label = string.format("(..., %d)", l.min)
    elseif slot == l.buckets + 1 then
      label = string.format("[%d, ...)", l.max)
    else
      local lo = l.min + (slot - 1) * l.step
      label = l.step == 1 and string.format("[%d]", lo) or string.format("[%d, %d)", lo, lo + l.step)
    end
    out[#out + 1] = string.format("%-16s%8d |%-52s|", label, n, string.rep("@", n * 52 // top))
  end
  return out
end

function Handle:__tostring()
  if self.closed then return self.label .. " (stopped)" end
  if self.reader then
    return string.format("%s: %d events so far, %d lost", self.label, self.count, self.reader:lost())
  end
  local lines = {}
  for _, r in ipairs(self:read()) do
    local name = self.label .. (r.text ~= "" and ("[" .. r.text .. "]") or "")
    if self.action == "hist" then
      lines[#lines + 1] = name .. ":"
      for _, l in ipairs(hist.log2_lines(r.buckets, self.unit)) do lines[#lines + 1] = l end
      lines[#lines + 1] = ""
    elseif self.action == "lhist" then
      lines[#lines + 1] = name .. ":"
      for _, l in ipairs(lhist_lines(r.buckets, self.lhist)) do lines[#lines + 1] = l end
      lines[#lines + 1] = ""
    elseif self.action == "stats" then
      lines[#lines + 1] = string.format("%s: count %d, average %d, total %d", name, r.count, r.value, r.sum)
    else
      lines[#lines + 1] = string.format("%s: %d", name, r.value)
    end
  end
  if #lines == 0 then return self.label .. ": (nothing yet)" end
  return table.concat(lines, "\n")
end

function Handle:print()
  print(tostring(self))
end

function Handle:clear()
  if self.values then self.values:clear() end
  self.count = 0
end

function Handle:stop()
  if self.closed then return end
  self.closed = true
  self.b:cleanup()
  for i, h in ipairs(M.active) do
    if h == self then table.remove(M.active, i) break end
  end
end
Handle.__close = Handle.stop
Handle.__gc = Handle.stop

-- What printf{} shows for a value of a key's kind; numbers and strings as
-- they are (the format decides).
value_text = function(h, kind, v, pid)
  if kind == "stack" or kind == "ustack" then
    return stack_text(h, v, pid, kind == "ustack")
  elseif kind == "cgroup" or kind == "container" then
    return cgroup_text(kind, v)
  elseif kind == "probe" then
    return h.probe_names[v] or ("probe " .. v)
  end
  return v
end

-- Prints a trace event as one line.
local function trace_line(h, e)
  local parts = { string.format("%-16s %-7d", BPF.printable(e.comm), e.pid) }
  for i = 3, #h.fields do
    local f = h.fields[i]
    local v = e[f.c]
    if f.kind == "stack" or f.kind == "ustack" then
      v = stack_text(h, v, e.pid, f.kind == "ustack")
    elseif f.kind == "cgroup" or f.kind == "container" then
      v = BPF.printable(cgroup_text(f.kind, v))
    elseif f.kind == "probe" then
      v = h.probe_names[v] or ("probe " .. v)
    elseif type(v) == "string" then
      v = BPF.printable(v)
    end
    parts[#parts + 1] = string.format("%s=%s", f.c, tostring(v))
  end
  return table.concat(parts, " ")
end

-- The program an action's options ask for, without compiling or attaching:
-- { text, fn, start_fn, keys, fields, probe, stop_probe }.
function M.program(action, opts)
  if type(opts) == "string" then opts = { opts } end
  if type(opts) ~= "table" then fail(action .. "{} takes a table: " .. action .. "{ \"t:CAT:NAME\", ... }") end
  check_options(action, opts)
  if action == "printf" then
    local fmt, err = printf.parse(opts[2])
    if not fmt then fail("printf{}: " .. err) end
    local given = 0
    while opts[given + 3] ~= nil do given = given + 1 end
    if given ~= fmt.count then
      fail(string.format("printf{}: the format has %d conversion%s but %d value%s follow%s it", fmt.count,
        fmt.count == 1 and "" or "s", given, given == 1 and "" or "s", given == 1 and "s" or ""))
    end
    for i = 3, given + 2 do
      if type(opts[i]) ~= "string" then
        fail(string.format("printf{}: value %d must be a name or a C expression (a string), not %s", i - 2, type(opts[i])))
      end
    end
    fmt.sources, fmt.kinds = {}, {}
    opts = setmetatable({ format = fmt }, { __index = opts })
  end
  if action == "lhist" then
    local l = {}
    for _, k in ipairs({ "min", "max", "step" }) do
      if math.type(opts[k]) ~= "integer" then
        fail(string.format("lhist{}: %s must be an integer (lhist{ PROBE, value = \"C\", min = 0, max = 100, step = 10 }), not %s",
          k, type(opts[k])))
      end
      l[k] = opts[k]
    end
    if l.step < 1 then fail("lhist{}: step must be 1 or more") end
    if l.max <= l.min then fail("lhist{}: max must be greater than min") end
    if (l.max - l.min) % l.step ~= 0 then fail("lhist{}: max - min must be a multiple of step") end
    l.buckets = (l.max - l.min) // l.step
    if l.buckets > 1000 then fail("lhist{}: at most 1000 steps from min to max, not " .. l.buckets) end
    opts = setmetatable({ lhist = l }, { __index = opts })
  end
  local p = M.parse_probe(opts[1] or opts.probe)
  local stop_probe = opts.to and M.parse_probe(opts.to)
  local prog = generate(action, p, opts, stop_probe)
  prog.probe, prog.stop_probe, prog.format, prog.lhist = p, stop_probe, opts.format, opts.lhist
  return prog
end

-- The `probe` key's values as names: the number of a glob's tracepoint,
-- or 0 for a probe of its own.
local function probe_names(p)
  if p.kind ~= "tracepoint" then return { [0] = p.kind .. p.spec:match("^[^:]*(:.*)$") } end
  local names = { [0] = "tracepoint:" .. p.targets[1] }
  for i, tp in ipairs(p.targets) do names[i] = "tracepoint:" .. tp end
  return names
end

local function new(action, opts)
  if type(opts) == "string" then opts = { opts } end
  local prog = M.program(action, opts)
  local cgroup
  if opts.cgroup then
    local err
    cgroup, err = cgroups.lookup(opts.cgroup)
    if not cgroup then fail(action .. "{}: cgroup = " .. err) end
  end
  local text = prog.text
  local cflags = {}
  if action == "trace" or action == "printf" then
    for k, v in pairs(events.defines({}, false)) do
      cflags[#cflags + 1] = "-D" .. k .. (v == true and "" or ("=" .. tostring(v)))
    end
  end
  local b = BPF{ text = probe.expand(text), cflags = cflags }
  local ok_cfg, err_cfg = pcall(probe.configure, b, { exclude_pid = BPF.getpid(), cgroup = cgroup,
                                                     filter_pid = opts.pid, children = opts.children })
  if not ok_cfg then
    b:cleanup()
    error(err_cfg, 0)
  end
  -- a failed attach must not leave the object's other probes attached
  local ok, err = pcall(M.attach_program, b, prog)
  if not ok then
    b:cleanup()
    error(err, 0)
  end
  local h = setmetatable({ action = action, b = b, c = text, probe = prog.probe.spec, keys = prog.keys, fields = prog.fields,
                           label = "@" .. (opts.name or ""), count = 0, out = opts.out or io.stdout, lhist = prog.lhist,
                           interval = opts.interval, clear_each = opts.clear,
                           unit = opts.to and ((opts.unit or "us") .. "ecs"):gsub("^nsecs", "nsecs") or "value" }, Handle)
  if action == "trace" then
    h.reader = events.open(b, "events", function(e)
      h.count = h.count + 1
      h.out:write(trace_line(h, e), "\n")
    end)
  elseif action == "printf" then
    local fmt, values = prog.format, {}
    h.reader = events.open(b, "events", function(e)
      h.count = h.count + 1
      for i, c in ipairs(fmt.sources) do values[i] = value_text(h, fmt.kinds[i], e[c], e.pid) end
      h.out:write(printf.format(fmt, values))
    end)
  else
    h.values = b:get_table("values")
  end
  local ok_stacks, st = pcall(b.get_table, b, "stacks")
  if ok_stacks then h.res = stacks.resolver(b, st) end
  h.probe_names = probe_names(prog.stop_probe or prog.probe)
  h.started = BPF.monotonic()
  M.active[#M.active + 1] = h
  return h
end

function M.count(opts) return new("count", opts) end
function M.sum(opts) return new("sum", opts) end
function M.avg(opts) return new("avg", opts) end
function M.hist(opts) return new("hist", opts) end
function M.trace(opts) return new("trace", opts) end
function M.printf(opts) return new("printf", opts) end
function M.lhist(opts) return new("lhist", opts) end
function M.min(opts) return new("min", opts) end
function M.max(opts) return new("max", opts) end
function M.stats(opts) return new("stats", opts) end

-- probes("t:syscalls:*open*") -> the matching probe names
function M.probes(glob)
  glob = glob or "t:*"
  local prefix, rest = glob:match("^([%a_]+):(.*)$")
  local kind = prefix and PREFIXES[prefix] and KINDS[PREFIXES[prefix]]
  if kind and kind.list then return kind.list(rest) end
  fail("probes() lists tracepoints (\"t:CAT:NAME\" with * and ?) and uprobes (\"u:/PATH:SYMBOL\")")
end

-- Events a trace{} could not deliver are said, never silently dropped: on
-- stderr as they grow (every second at most) and at the end.
local function report_losses(final)
  for _, h in ipairs(M.active) do
    if h.reader then
      local lost = h.reader:lost()
      if lost > (h.lost_said or 0) or (final and lost > 0) then
        io.stderr:write(string.format("bpflua: %s%s: %d events lost%s (the buffer was full), %d delivered\n",
          final and "" or "warning: ", h.probe, lost, final and "" or " so far", h.count))
        h.lost_said = lost
      end
    end
  end
end

-- BEGIN(fn) and END(fn): Lua run once the script's probes are attached
-- (as wait() starts) and once they have stopped counting (before the maps
-- print), as bpftrace's BEGIN and END blocks.
local begins, ends = {}, {}

local function checked_fn(what, fn)
  if type(fn) ~= "function" then fail(string.format("%s() takes a function: %s(function() print(\"...\") end)", what, what)) end
  return fn
end

function M.BEGIN(fn)
  begins[#begins + 1] = checked_fn("BEGIN", fn)
end

function M.END(fn)
  ends[#ends + 1] = checked_fn("END", fn)
end

local function run_begins()
  local list = begins
  begins = {}
  for _, fn in ipairs(list) do fn() end
end

-- interval(SECONDS, fn): fn every SECONDS while wait() runs, as bpftrace's
-- interval:s:N. Handles with interval = N print themselves that often (and
-- with clear = true start again empty); -i N gives every aggregation that.
local timers = {}
M.default_interval = nil

function M.interval(seconds, fn)
  if not (type(seconds) == "number" and seconds > 0 and seconds <= 86400) then
    fail("interval() takes a number of seconds (more than 0, at most 86400) and a function")
  end
  timers[#timers + 1] = { every = seconds, fn = checked_fn("interval", fn), next = BPF.monotonic() + seconds }
end

local function run_timers(now)
  for _, t in ipairs(timers) do
    if now >= t.next then
      t.next = t.next + t.every * (1 + math.floor((now - t.next) / t.every))
      t.fn()
    end
  end
  for _, h in ipairs(M.active) do
    local every = h.interval or (not h.reader and M.default_interval)
    if every and not h.reader then
      h.next_print = h.next_print or (h.started + every)
      if now >= h.next_print then
        h.next_print = h.next_print + every * (1 + math.floor((now - h.next_print) / every))
        h.out:write(tostring(h), "\n\n")
        if h.clear_each then h:clear() end
      end
    end
  end
end

-- Polls the trace handles for seconds (nil: until Ctrl-C); returns false if
-- Ctrl-C ended it.
function M.wait(seconds)
  run_begins()
  local deadline = seconds and BPF.monotonic() + seconds
  local resolved, said = BPF.monotonic(), BPF.monotonic()
  while true do
    if BPF.monotonic() - resolved >= 0.1 then -- a process's first stacks snapshot its mappings
      for _, h in ipairs(M.active) do resolve_stacks(h) end
      resolved = BPF.monotonic()
    end
    if BPF.monotonic() - said >= 1 then
      report_losses(false)
      said = BPF.monotonic()
    end
    local step = 0.1
    if deadline then
      step = math.min(step, deadline - BPF.monotonic())
      if step <= 0 then return true end
    end
    local polled = false
    for _, h in ipairs(M.active) do
      if h.reader then
        h.reader:poll(math.max(1, math.floor(step * 1000 / #M.active)))
        polled = true
      end
    end
    if not polled and not BPF.sleep(step) then return false end
    run_timers(BPF.monotonic())
    io.stdout:flush()
    if BPF.interrupted() then return false end
  end
end

-- What -e prints at the end, as bpftrace prints its maps.
function M.print_all()
  run_begins()
  local list = ends
  ends = {}
  for _, fn in ipairs(list) do fn() end
  for _, h in ipairs(M.active) do
    if not h.reader then print(tostring(h)) end
  end
  report_losses(true)
end

-- The names one-liners and the REPL put in a script's environment.
function M.install(env)
  for _, n in ipairs({ "count", "sum", "avg", "hist", "trace", "probes", "wait" }) do env[n] = M[n] end
  for _, n in ipairs({ "printf", "lhist", "min", "max", "stats", "BEGIN", "END", "interval" }) do env[n] = M[n] end
end

return M
