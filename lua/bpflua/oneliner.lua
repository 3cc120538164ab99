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
-- Keys (by) and trace fields: pid, tid, comm, cpu, uid, stack, ustack,
-- args.NAME (tracepoint fields), arg0..arg5 and retval (u/k probes).
-- filter and value are C expressions over the same names (args.x or args->x).
-- to = PROBE times from the first probe to the second, per thread:
--   hist{ "t:syscalls:sys_enter_nanosleep", to = "t:syscalls:sys_exit_nanosleep" }
-- (value defaults to `elapsed`, in unit = "us"; "ns" and "ms" work too).
local hist = require("bpflua.hist")
local events = require("bpflua.events")
local stacks = require("bpflua.stacks")

local M = {}

-- handles that are still attached, in creation order
M.active = {}

local KINDS = {
  tracepoint = "tracepoint", t = "tracepoint",
  raw_tracepoint = "raw_tracepoint", rt = "raw_tracepoint",
  uprobe = "uprobe", u = "uprobe", uretprobe = "uretprobe", ur = "uretprobe",
  profile = "profile", p = "profile",
  kprobe = "kprobe", k = "kprobe", kretprobe = "kretprobe", kr = "kretprobe",
}

local SPEC_HELP = "probe specs: t:CAT:NAME, rt:NAME, u:/PATH:SYMBOL, ur:/PATH:SYMBOL, p:hz:N, k:FUNCTION"

local function fail(msg)
  error(BPF.error("failed", msg), 0)
end

local function tracefs()
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

function M.parse_probe(spec)
  if type(spec) ~= "string" then fail("the first item must be a probe spec; " .. SPEC_HELP) end
  local prefix, rest = spec:match("^([%a_]+):(.+)$")
  local kind = prefix and KINDS[prefix]
  if not kind then fail(string.format("'%s' is not a probe spec; %s", spec, SPEC_HELP)) end
  local p = { kind = kind, spec = spec }
  if kind == "tracepoint" then
    local tp = rest
    if not tp:find(":") then fail(string.format("'%s': a tracepoint is CATEGORY:NAME", spec)) end
    p.targets = tp:find("[*?]") and M.tracepoints(tp) or { tp }
    if #p.targets == 0 then fail(string.format("'%s' matches no tracepoint (probes(\"t:%s\") lists them)", spec, tp)) end
  elseif kind == "raw_tracepoint" then
    p.targets = { rest }
  elseif kind == "uprobe" or kind == "uretprobe" then
    local path, sym = rest:match("^(.+):([^:]+)$")
    if not path then fail(string.format("'%s': a uprobe is u:/PATH:SYMBOL or u:LIBRARY:SYMBOL", spec)) end
    p.path, p.sym = path, sym
  elseif kind == "profile" then
    local hz = rest:match("^hz:(%d+)$") or rest:match("^(%d+)$")
    if not hz then fail(string.format("'%s': a sampling probe is p:hz:FREQUENCY", spec)) end
    p.hz = tonumber(hz)
  else
    p.fn = rest
  end
  return p
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

-- C for one key or trace field: { decl = "u32 pid", set = "k.pid = pid;", kind = ... }
local function field_code(p, name, var)
  local fields = p.fields
  local c = name:gsub("[^%w_]", "_")
  if name == "pid" or name == "tid" or name == "cpu" or name == "uid" then
    return { c = c, decl = "u32 " .. c, set = string.format("%s.%s = %s;", var, c, name), kind = "int" }
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
  fail(string.format("unknown key or field '%s': use pid, tid, comm, cpu, uid, stack, ustack, args.NAME%s", name,
    p.regs_args and ", arg0..arg5" .. (p.retval and ", retval" or "") or ""))
end

-- C expressions: args.x is args->x
local function c_expr(s)
  return (s:gsub("args%.([%a_])", "args->%1"))
end

-- The C function a probe runs: a TRACEPOINT_PROBE for one tracepoint
-- (attached by its name), else a named function attached explicitly.
local function function_header(p, fn)
  if p.kind == "tracepoint" and #p.targets == 1 then
    local cat, name = p.targets[1]:match("^([^:]+):(.+)$")
    return string.format("TRACEPOINT_PROBE(%s, %s)", cat, name), nil
  elseif p.kind == "tracepoint" then
    return "int " .. fn .. "(void *args)", fn
  elseif p.kind == "raw_tracepoint" then
    return "int " .. fn .. "(struct bpf_raw_tracepoint_args *ctx)", fn
  elseif p.kind == "profile" then
    return "int " .. fn .. "(struct bpf_perf_event_data *ctx)", fn
  end
  return "int " .. fn .. "(struct pt_regs *ctx)", fn
end

local UNITS = { ns = 1, us = 1000, ms = 1000000 }

-- p.regs and friends: how the probe's context is reached in C
local function prepare(p)
  if p.kind == "tracepoint" then
    p.regs = "args"
    if #p.targets == 1 then
      p.fields = tracepoint_fields(p.targets[1])
      if not p.fields then
        fail(string.format("no tracepoint %s on this kernel (probes(\"t:%s*\") lists similar ones)",
          p.targets[1], p.targets[1]:match("^[^:]+:") or ""))
      end
    end
    p.user_strings = p.targets[1]:match("^syscalls:") ~= nil
  elseif p.kind == "raw_tracepoint" then
    p.regs = "ctx"
  elseif p.kind == "profile" then
    p.regs = "&ctx->regs"
  else
    p.regs, p.regs_args = "ctx", true
    p.retval = p.kind == "uretprobe" or p.kind == "kretprobe"
  end
end

-- bl_self holds bpflua's own pid: a one-liner counts the system, not the
-- tracer reading it. Probes named by macro attach as the object loads, so
-- until the pid is set (right after) nothing counts.
local PREAMBLE = [[
	u64 __id = bpf_get_current_pid_tgid();
	u32 pid = __id >> 32, tid = (u32)__id;
	u32 cpu = bpf_get_smp_processor_id();
	u32 uid = (u32)bpf_get_current_uid_gid();
	int __zero = 0;
	u32 *__self = bl_self.lookup(&__zero);
	if (!__self || !*__self || pid == *__self)
		return 0;
]]
-- only when a filter names it: reading comm costs a helper call per event
local COMM = "\tchar comm[16];\n\tbpf_get_current_comm(&comm, sizeof(comm));"

local HELPERS = [[
#include <uapi/linux/bpf_perf_event.h>
BPF_ARRAY(bl_self, u32, 1);
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

-- Builds the program text for an action over a probe.
-- action: "count" | "sum" | "avg" | "hist" | "trace"
-- With opts.to (stop_probe), the first probe starts a clock per thread and the second
-- (where keys, filter and value apply) reads it as `elapsed`, in opts.unit.
local OPTION_TYPES = { by = "a key name or a list of key names", fields = "a list of field names",
                       filter = "a C expression (a string)", value = "a C expression (a string)",
                       name = "a string", unit = "ns, us or ms", to = "a probe spec" }

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
end

local function generate(action, p, opts, stop_probe)
  prepare(p)
  if stop_probe then prepare(stop_probe) end
  local by = opts.by
  if type(by) == "string" then by = { by } end
  by = by or {}
  local keys = {}
  for i, name in ipairs(by) do keys[i] = field_code(stop_probe or p, name, "k") end
  -- a user stack means nothing without its process: keep the pid, unprinted
  local has_pid, has_ustack = false, false
  for _, k in ipairs(keys) do
    has_pid = has_pid or k.c == "pid"
    has_ustack = has_ustack or k.kind == "ustack"
  end
  if has_ustack and not has_pid then
    keys[#keys + 1] = field_code(stop_probe or p, "pid", "k")
    keys[#keys].hidden = true
  end
  local trace_fields = {}
  if action == "trace" then
    local list = { "pid", "comm" }
    for _, f in ipairs(opts.fields or {}) do
      if f ~= "pid" and f ~= "comm" then list[#list + 1] = f end
    end
    for i, name in ipairs(list) do trace_fields[i] = field_code(stop_probe or p, name, "e") end
  end
  local main = stop_probe or p
  local header, fn = function_header(main, "bl_probe")
  local out = { HELPERS }
  local function w(s) out[#out + 1] = s end
  local uses_stacks = false
  for _, k in ipairs(keys) do uses_stacks = uses_stacks or k.stacks end
  for _, k in ipairs(trace_fields) do uses_stacks = uses_stacks or k.stacks end
  if uses_stacks then w("BPF_STACK_TRACE(stacks, 8192);") end

  local key_decls = {}
  for _, k in ipairs(keys) do key_decls[#key_decls + 1] = "\t" .. k.decl .. ";" end
  if #keys == 0 then key_decls[1] = "\tu32 none;" end
  if action == "hist" then key_decls[#key_decls + 1] = "\tu32 slot;" end
  if action ~= "trace" then
    w("struct key_t {\n" .. table.concat(key_decls, "\n") .. "\n};")
    if action == "avg" then
      w("struct avg_t { u64 sum; u64 count; };")
      w("BPF_HASH(values, struct key_t, struct avg_t, 10240);")
    else
      w("BPF_HASH(values, struct key_t, u64, 10240);")
    end
  else
    local decls = {}
    for _, f in ipairs(trace_fields) do decls[#decls + 1] = "\t" .. f.decl .. ";" end
    w("struct event {\n\tu64 ts;\n" .. table.concat(decls, "\n") .. "\n};")
    w("#ifdef BL_RINGBUF\nBPF_RINGBUF_OUTPUT(events, 256);\n#else\nBPF_PERF_OUTPUT(events);\n#endif")
    w("BPF_PERCPU_ARRAY(events_lost, u64, 1);")
  end

  local start_fn
  if stop_probe then
    local unit = UNITS[opts.unit or "us"]
    if not unit then fail("unit must be ns, us or ms") end
    w("BPF_TABLE(\"lru_hash\", u32, u64, bl_start, 65536);")
    local sheader
    sheader, start_fn = function_header(p, "bl_clock")
    w(sheader .. "\n{\n\tu32 tid = (u32)bpf_get_current_pid_tgid();\n\tu64 now = bpf_ktime_get_ns();\n" ..
      "\tbl_start.update(&tid, &now);\n\treturn 0;\n}")
    p = stop_probe
    w(header .. "\n{")
    w(PREAMBLE)
    w("\tu64 *t0 = bl_start.lookup(&tid);\n\tif (!t0)\n\t\treturn 0;\n" ..
      string.format("\tu64 elapsed = (bpf_ktime_get_ns() - *t0) / %d;\n", unit) .. "\tbl_start.delete(&tid);")
  else
    w(header .. "\n{")
    w(PREAMBLE)
  end
  if p.regs_args then
    for i = 0, 5 do w(string.format("\tu64 arg%d = PT_REGS_PARM%d(ctx);", i, i + 1)) end
  end
  if p.retval then w("\ts64 retval = PT_REGS_RC(ctx);") end
  if p.kind == "raw_tracepoint" then
    for i = 0, 5 do w(string.format("\tu64 arg%d = ctx->args[%d];", i, i)) end
  end
  if opts.filter then
    if opts.filter:find("comm") then w(COMM) end
    w("\tif (!(" .. c_expr(opts.filter) .. "))\n\t\treturn 0;")
  end
  if action == "trace" then
    w("\tstruct event e = {};\n\te.ts = bpf_ktime_get_ns();")
    for _, f in ipairs(trace_fields) do w("\t" .. f.set) end
    w("#ifdef BL_RINGBUF\n\tif (events.ringbuf_output(&e, sizeof(e), 0)) {\n\t\tint zero = 0;\n" ..
      "\t\tevents_lost.increment(zero);\n\t}\n#else\n\tif (events.perf_submit(" ..
      (p.kind == "profile" and "ctx" or p.regs) .. ", &e, sizeof(e))) {\n\t\tint zero = 0;\n" ..
      "\t\tevents_lost.increment(zero);\n\t}\n#endif")
  else
    w("\tstruct key_t k = {};")
    for _, k in ipairs(keys) do w("\t" .. k.set) end
    if action == "count" then
      w("\tvalues.increment(k);")
    else
      local value = opts.value or (stop_probe and "elapsed")
      if not value then fail(action .. "{} needs value = \"C expression\" (e.g. \"args.ret\"), or to = PROBE") end
      w("\tu64 v = (u64)(" .. c_expr(value) .. ");")
      if action == "sum" then
        w("\tvalues.increment(k, v);")
      elseif action == "hist" then
        w("\tk.slot = bpf_log2l(v);\n\tvalues.increment(k);")
      else
        w("\tstruct avg_t zero = {};\n\tstruct avg_t *a = values.lookup_or_try_init(&k, &zero);\n" ..
          "\tif (a) {\n\t\t__sync_fetch_and_add(&a->sum, v);\n\t\t__sync_fetch_and_add(&a->count, 1);\n\t}")
      end
    end
  end
  w("\treturn 0;\n}")
  return table.concat(out, "\n"), fn, keys, trace_fields, start_fn
end

local function attach(b, p, fn)
  if p.kind == "tracepoint" then
    if fn then
      for _, tp in ipairs(p.targets) do b:attach_tracepoint{ tp = tp, fn_name = fn } end
    end
  elseif p.kind == "raw_tracepoint" then
    b:attach_raw_tracepoint{ tp = p.targets[1], fn_name = fn }
  elseif p.kind == "uprobe" then
    b:attach_uprobe{ name = p.path, sym = p.sym, fn_name = fn }
  elseif p.kind == "uretprobe" then
    b:attach_uretprobe{ name = p.path, sym = p.sym, fn_name = fn }
  elseif p.kind == "kprobe" then
    b:attach_kprobe{ event = p.fn, fn_name = fn }
  elseif p.kind == "kretprobe" then
    b:attach_kretprobe{ event = p.fn, fn_name = fn }
  elseif p.kind == "profile" then
    b:attach_perf_event{ ev_type = BPF.PERF_TYPE_SOFTWARE, ev_config = BPF.PERF_COUNT_SW_CPU_CLOCK,
                         sample_freq = p.hz, pid = -1, cpu = -1, fn_name = fn }
  end
end

local Handle = {}
Handle.__index = Handle

local function stack_text(h, id, pid, user)
  if id < 0 then return "[no stack]" end
  local frames = user and h.res:user_frames(pid, id) or h.res:kernel_frames(id)
  local shown = {}
  for i, f in ipairs(frames) do shown[i] = BPF.printable(f) end
  return table.concat(shown, "\n\t")
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

local function key_text(h, k)
  if #h.keys == 0 then return nil end
  local parts = {}
  for _, f in ipairs(h.keys) do
    local v = k[f.c]
    if f.kind == "stack" then
      v = "\n\t" .. stack_text(h, v, nil, false) .. "\n"
    elseif f.kind == "ustack" then
      v = "\n\t" .. stack_text(h, v, k.pid, true) .. "\n"
    end
    if type(v) == "string" and f.kind ~= "stack" and f.kind ~= "ustack" then v = BPF.printable(v) end
    if not f.hidden then parts[#parts + 1] = tostring(v) end
  end
  return table.concat(parts, ", ")
end

-- The aggregation as rows: { key = {field = value}, value = n } (hist:
-- buckets = {slot = count}); sorted by value, as bpftrace prints.
function Handle:read()
  if self.action == "trace" then return {} end
  local rows, by_key = {}, {}
  for k, v in self.values:items() do
    local text = key_text(self, k) or ""
    local r = by_key[text]
    if not r then
      r = { key = k, text = text, value = 0, buckets = {} }
      by_key[text] = r
      rows[#rows + 1] = r
    end
    if self.action == "hist" then
      r.buckets[k.slot] = (r.buckets[k.slot] or 0) + v
      r.value = r.value + v
    elseif self.action == "avg" then
      r.value = v.count > 0 and v.sum // v.count or 0
    else
      r.value = v
    end
  end
  table.sort(rows, function(a, b)
    if a.value ~= b.value then return a.value < b.value end
    return a.text < b.text
  end)
  return rows
end

function Handle:__tostring()
  if self.closed then return self.label .. " (stopped)" end
  if self.action == "trace" then
    return string.format("%s: %d events so far, %d lost", self.label, self.count, self.reader:lost())
  end
  local lines = {}
  for _, r in ipairs(self:read()) do
    local name = self.label .. (r.text ~= "" and ("[" .. r.text .. "]") or "")
    if self.action == "hist" then
      lines[#lines + 1] = name .. ":"
      for _, l in ipairs(hist.log2_lines(r.buckets, self.unit)) do lines[#lines + 1] = l end
      lines[#lines + 1] = ""
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

-- Prints a trace event as one line.
local function trace_line(h, e)
  local parts = { string.format("%-16s %-7d", BPF.printable(e.comm), e.pid) }
  for i = 3, #h.fields do
    local f = h.fields[i]
    local v = e[f.c]
    if f.kind == "stack" or f.kind == "ustack" then
      v = stack_text(h, v, e.pid, f.kind == "ustack")
    elseif type(v) == "string" then
      v = BPF.printable(v)
    end
    parts[#parts + 1] = string.format("%s=%s", f.c, tostring(v))
  end
  return table.concat(parts, " ")
end

local function new(action, opts)
  if type(opts) == "string" then opts = { opts } end
  if type(opts) ~= "table" then fail(action .. "{} takes a table: " .. action .. "{ \"t:CAT:NAME\", ... }") end
  check_options(action, opts)
  local p = M.parse_probe(opts[1] or opts.probe)
  local stop_probe = opts.to and M.parse_probe(opts.to)
  local text, fn, keys, fields, start_fn = generate(action, p, opts, stop_probe)
  local cflags = {}
  if action == "trace" then
    for k, v in pairs(events.defines({}, false)) do
      cflags[#cflags + 1] = "-D" .. k .. (v == true and "" or ("=" .. tostring(v)))
    end
  end
  local b = BPF{ text = text, cflags = cflags }
  b:get_table("bl_self"):set(0, BPF.getpid())
  -- a failed attach must not leave the object's other probes attached
  local ok, err = pcall(function()
    if stop_probe then attach(b, stop_probe, fn) end
    attach(b, p, stop_probe and start_fn or fn)
  end)
  if not ok then
    b:cleanup()
    error(err, 0)
  end
  local h = setmetatable({ action = action, b = b, c = text, probe = p.spec, keys = keys, fields = fields,
                           label = "@" .. (opts.name or ""), count = 0, out = opts.out or io.stdout,
                           unit = opts.to and ((opts.unit or "us") .. "ecs"):gsub("^nsecs", "nsecs") or "value" }, Handle)
  if action == "trace" then
    h.reader = events.open(b, "events", function(e)
      h.count = h.count + 1
      h.out:write(trace_line(h, e), "\n")
    end)
  else
    h.values = b:get_table("values")
  end
  local ok_stacks, st = pcall(b.get_table, b, "stacks")
  if ok_stacks then h.res = stacks.resolver(b, st) end
  M.active[#M.active + 1] = h
  return h
end

function M.count(opts) return new("count", opts) end
function M.sum(opts) return new("sum", opts) end
function M.avg(opts) return new("avg", opts) end
function M.hist(opts) return new("hist", opts) end
function M.trace(opts) return new("trace", opts) end

-- probes("t:syscalls:*open*") -> the matching probe names
function M.probes(glob)
  glob = glob or "t:*"
  local prefix, rest = glob:match("^([%a_]+):(.*)$")
  local kind = prefix and KINDS[prefix]
  if kind == "tracepoint" then
    local out = {}
    for i, tp in ipairs(M.tracepoints(rest)) do out[i] = "tracepoint:" .. tp end
    return out
  elseif kind == "uprobe" or kind == "uretprobe" then
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

-- Polls the trace handles for seconds (nil: until Ctrl-C); returns false if
-- Ctrl-C ended it.
function M.wait(seconds)
  local deadline = seconds and BPF.monotonic() + seconds
  local resolved, said = BPF.monotonic(), BPF.monotonic()
  while true do
    if BPF.monotonic() - resolved >= 0.5 then
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
    io.stdout:flush()
    if BPF.interrupted() then return false end
  end
end

-- What -e prints at the end, as bpftrace prints its maps.
function M.print_all()
  for _, h in ipairs(M.active) do
    if h.action ~= "trace" then print(tostring(h)) end
  end
  report_losses(true)
end

-- The names one-liners and the REPL put in a script's environment.
function M.install(env)
  for _, n in ipairs({ "count", "sum", "avg", "hist", "trace", "probes", "wait" }) do env[n] = M[n] end
end

return M
