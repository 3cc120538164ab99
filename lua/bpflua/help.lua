-- help and help(topic) in the REPL: a short description and the arguments
-- of a one-liner, the BPF object, its methods and its tables. The same
-- entries give a function's signature when its bare name is typed.
local oneliner = require("bpflua.oneliner")
local pretty = require("bpflua.pretty")

local M = {}

M.OVERVIEW = [==[
bpflua REPL: Lua 5.4 with the BPF API and one-liners.
  count{ "t:syscalls:sys_enter_openat", by = "comm" }    count events by key
  hist{ "t:syscalls:sys_exit_read", value = "args.ret" } log2 histogram
  hist{ "t:syscalls:sys_enter_nanosleep", to = "t:syscalls:sys_exit_nanosleep" }
                                  latency (elapsed, unit = "us" by default)
  sum{...} avg{...}  (value = "C expression")            totals and means
  min{...} max{...} stats{...} lhist{..., min = 0, max = 100, step = 10}
  BEGIN(fn) END(fn) interval(1, fn)   Lua at start, at end, every second
  count{..., interval = 1, clear = true}                 print (and empty) every second
  trace{ "u:c:malloc", fields = { "arg0" } }             one line per event
  printf{ "t:syscalls:sys_enter_openat", "%s %s\n", "comm", "str(args.filename)" }
                                  one formatted line per event (bpftrace's formats)
  keys (by) and fields: pid tid comm cpu uid stack ustack args.NAME arg0..5 retval
  filter = "C expression", e.g. "pid == 42" or "comm_is(\"bash\")"
  probes("t:syscalls:*open*")   list probe names (u:/path:sym* for uprobes)
  h = count{...}; h; h:clear(); h:stop()                 read, reset, detach
  wait(5)                         stream trace events for 5 s (Ctrl-C stops)
  b = BPF{ text = [[ C ]] }       BCC's API: b:get_table("name"), b:attach_uprobe{...}
  b:get_table("c")                a table is shown as its entries, as bpftrace shows maps
:tables  :probes  :detach N       what this session loaded and attached; detach one probe
                                  (also tables(), attached(), detach(N))
help(count) help(BPF) help(b) help("get_table")   one thing's arguments
Ctrl-C stops a running statement, Ctrl-D leaves (everything is detached).]==]

local PROBE_ARGS = {
  { "[1] or probe", 't:CAT:NAME (wildcards), rt:NAME, u:/PATH:SYMBOL, u:LIB:SYMBOL, ur:..., p:hz:N, k:FN' },
  { "by", 'key or list of keys: pid tid comm cpu uid stack ustack args.NAME arg0..arg5 retval' },
  { "filter", 'C expression over the same names, e.g. "pid == 42", "comm_is(\\"bash\\")"' },
  { "to", "a second probe: time from the first to it per thread (value = elapsed)" },
  { "unit", '"ns", "us" (default) or "ms" for elapsed' },
  { "name", "the map's name when printed (@name)" },
}
local function with(extra, ...)
  local out = {}
  for _, a in ipairs(PROBE_ARGS) do out[#out + 1] = a end
  for _, a in ipairs(extra) do out[#out + 1] = a end
  return out
end

-- name -> { sig, desc, args = { {name, what} }, fn = function or nil }
local DOCS = {
  count = { sig = 'count{ PROBE, by = KEYS, filter = "C" }', desc = "count events, per key; returns a handle",
            args = with({}) },
  sum = { sig = 'sum{ PROBE, value = "C", by = KEYS }', desc = "sum a value per key; returns a handle",
          args = with({ { "value", 'C expression summed, e.g. "args.ret"' } }) },
  avg = { sig = 'avg{ PROBE, value = "C", by = KEYS }', desc = "mean of a value per key; returns a handle",
          args = with({ { "value", "C expression averaged" } }) },
  hist = { sig = 'hist{ PROBE, value = "C", by = KEYS }', desc = "log2 histogram of a value per key; returns a handle",
           args = with({ { "value", 'C expression, e.g. "args.ret" (elapsed with to =)' } }) },
  trace = { sig = 'trace{ PROBE, fields = { NAMES } }', desc = "print one line per event (while wait() runs)",
            args = with({ { "fields", "what each line shows besides comm and pid" } }) },
  printf = { sig = 'printf{ PROBE, "FORMAT", EXPR, ... }', desc = "print one formatted line per event (bpftrace's %d %u %x %s %c ...)",
             args = with({ { "EXPR", 'one per conversion: a field name (comm, pid, args.NAME, retval, ...), str(EXPR[, N]) for a string, or C' } }) },
  min = { sig = 'min{ PROBE, value = "C", by = KEYS }', desc = "smallest value per key; returns a handle",
          args = with({ { "value", "C expression (signed)" } }) },
  max = { sig = 'max{ PROBE, value = "C", by = KEYS }', desc = "largest value per key; returns a handle",
          args = with({ { "value", "C expression (signed)" } }) },
  stats = { sig = 'stats{ PROBE, value = "C", by = KEYS }', desc = "count, average and total of a value per key",
            args = with({ { "value", "C expression" } }) },
  lhist = { sig = 'lhist{ PROBE, value = "C", min = N, max = N, step = N }', desc = "linear histogram per key, as bpftrace draws it",
            args = with({ { "value", "C expression" }, { "min, max, step", "integers: buckets of step from min to max" } }) },
  BEGIN = { sig = "BEGIN(function() ... end)", desc = "run once the probes are attached (as wait() starts)" },
  END = { sig = "END(function() ... end)", desc = "run at the end, before the maps print" },
  interval = { sig = "interval(SECONDS, function() ... end)", desc = "run every SECONDS while wait() runs; " ..
               "a one-liner's interval = N (clear = true) prints it every N s" },
  probes = { sig = 'probes(GLOB)', desc = "probe names matching GLOB, in columns",
             args = { { "GLOB", '"t:CAT:NAME" with * and ?, or "u:/PATH:SYMBOL*" for a binary\'s functions' } } },
  wait = { sig = "wait(SECONDS)", desc = "stream trace{} events for SECONDS (nil: until Ctrl-C)" },
  help = { sig = "help(TOPIC)", desc = "this text; help(count), help(BPF), help(b), help(\"items\")" },
  tables = { sig = "tables()", desc = "the BPF tables this session loaded (also :tables)" },
  attached = { sig = "attached()", desc = "the probes this session attached, numbered (also :probes)" },
  detach = { sig = "detach(N | NAME | PROBE)", desc = "detach probe N of attached(), a handle or object by its variable name, or a probe by its spec (also :detach)" },
  BPF = { sig = 'BPF{ text = "C", src_file = PATH, cflags = { "-DX=1" }, cache = true }',
          desc = "compile and load BPF C; functions named tracepoint__CAT__NAME attach themselves",
          args = { { "text", "the C source (BCC's dialect: BPF_HASH, TRACEPOINT_PROBE, ...)" },
                   { "src_file", "or a file holding it" },
                   { "cflags", "extra compiler flags" },
                   { "cache", "false: compile again rather than reuse a cached object" } } },
  -- the BPF object
  attach_tracepoint = { sig = 'b:attach_tracepoint{ tp = "CAT:NAME", fn_name = "f" }', desc = "run f on a tracepoint" },
  attach_raw_tracepoint = { sig = 'b:attach_raw_tracepoint{ tp = "NAME", fn_name = "f" }', desc = "run f on a raw tracepoint" },
  attach_perf_event = { sig = "b:attach_perf_event{ ev_type, ev_config, sample_freq | sample_period, pid, cpu, fn_name }",
                        desc = "run f on a perf event (BPF.PERF_TYPE_SOFTWARE, BPF.PERF_COUNT_SW_CPU_CLOCK, ...)" },
  attach_uprobe = { sig = 'b:attach_uprobe{ name = "/path or lib", sym = "fn", addr = N, pid = N, fn_name = "f", emulate = true }',
                    desc = "run f when a user function is entered (emulate: past leading test/cmp/nop to a branch the kernel emulates, one trap a call instead of two; same calls and arguments)" },
  attach_uretprobe = { sig = 'b:attach_uretprobe{ name, sym, addr, pid, fn_name }', desc = "run f when a user function returns" },
  attach_kprobe = { sig = 'b:attach_kprobe{ event = "fn", fn_name = "f" }', desc = "run f when a kernel function is entered" },
  attach_kretprobe = { sig = 'b:attach_kretprobe{ event = "fn", fn_name = "f" }', desc = "run f when a kernel function returns" },
  get_table = { sig = 'b:get_table("name")', desc = "a BPF table (map) of the program; shown as its entries" },
  load_func = { sig = 'b:load_func("f", BPF.TRACEPOINT)', desc = "load a function as a program type; returns its fd" },
  functions = { sig = "b:functions()", desc = "the program's function names" },
  ["b:tables"] = { sig = "b:tables()", desc = "the program's table names" },
  ["b:attached"] = { sig = "b:attached()", desc = "what the object is attached to" },
  ["b:detach"] = { sig = 'b:detach(N | "spec")', desc = "detach one of b:attached(), keep the rest" },
  sym = { sig = "b:sym(addr, pid, with_offset)", desc = "a user address as a symbol name" },
  perf_buffer_poll = { sig = "b:perf_buffer_poll(timeout_ms)", desc = "deliver perf buffer events to their callbacks" },
  ring_buffer_poll = { sig = "b:ring_buffer_poll(timeout_ms)", desc = "deliver ring buffer events to their callbacks" },
  ring_buffer_consume = { sig = "b:ring_buffer_consume()", desc = "deliver what the ring buffers hold, without waiting" },
  cleanup = { sig = "b:cleanup()", desc = "detach everything and free the object's tables" },
  -- a BPF table
  get = { sig = "t:get(key)", desc = "the value at key (nil if absent)" },
  set = { sig = "t:set(key, value)", desc = "store a value" },
  delete = { sig = "t:delete(key)", desc = "remove a key" },
  items = { sig = "t:items()", desc = "iterator over key, value (typed alone, it is shown as its rows)" },
  keys = { sig = "t:keys()", desc = "a list of the keys" },
  clear = { sig = "t:clear()", desc = "empty a hash, zero an array" },
  walk = { sig = "t:walk(stack_id)", desc = "iterator over a stack's addresses, innermost first" },
  name = { sig = "t:name()", desc = "the table's name" },
  info = { sig = "t:info()", desc = "name, kind, key_size, value_size, max_entries, percpu" },
  open_perf_buffer = { sig = "t:open_perf_buffer(callback)", desc = "call callback(event) for each event sent to it" },
  open_ring_buffer = { sig = "t:open_ring_buffer(callback)", desc = "call callback(event) for each event sent to it" },
  print_log2_hist = { sig = 't:print_log2_hist("label")', desc = "print a BCC log2 histogram" },
  print_linear_hist = { sig = 't:print_linear_hist("label")', desc = "print a linear histogram" },
  sum_ = { sig = "t:sum(key)", desc = "a per-CPU value summed" },
  -- a one-liner's handle
  read = { sig = "h:read()", desc = "the aggregation as rows { key, value }" },
  print = { sig = "h:print()", desc = "print the aggregation" },
  stop = { sig = "h:stop()", desc = "detach the one-liner" },
  clear_ = { sig = "h:clear()", desc = "reset the counts" },
}

-- function value -> doc entry
local BY_FN = {}

local function bind(name, fn)
  if type(fn) == "function" and DOCS[name] and not BY_FN[fn] then
    DOCS[name].fn = fn
    BY_FN[fn] = DOCS[name]
  end
end

for _, n in ipairs({ "count", "sum", "avg", "hist", "trace", "probes", "wait" }) do bind(n, oneliner[n]) end
for _, n in ipairs({ "printf", "lhist", "min", "max", "stats", "BEGIN", "END", "interval" }) do bind(n, oneliner[n]) end
for n, f in pairs(BPF.methods) do bind(DOCS["b:" .. n] and ("b:" .. n) or n, f) end
for n, f in pairs(BPF.table_methods) do bind(n == "sum" and "sum_" or n, f) end
bind("BPF", BPF.new)

-- interactive.lua's own functions
function M.register(name, fn)
  bind(name, fn)
end

local function entry_lines(e, out)
  out[#out + 1] = e.sig
  out[#out + 1] = "  " .. e.desc
  for _, a in ipairs(e.args or {}) do
    out[#out + 1] = string.format("  %-14s %s", a[1], a[2])
  end
end

-- The name a C function goes by in Lua's own libraries.
local function builtin_name(f)
  for lib, t in pairs({ _G = _G, string = string, table = table, math = math, io = io, os = os,
                        utf8 = utf8, coroutine = coroutine, debug = debug, BPF = BPF }) do
    for k, v in pairs(t) do
      if v == f then return lib == "_G" and k or (lib .. "." .. k) end
    end
  end
end

-- What a function is, on one line: its signature, not its address.
function M.signature(f, short)
  local e = BY_FN[f]
  if e then return short and e.sig or (e.sig .. "  -- " .. e.desc) end
  local info = debug.getinfo(f, "Su")
  if info.what == "C" then
    local name = builtin_name(f)
    return (name or "function") .. "(...)" .. (short and "" or "  -- built in (C)")
  end
  local params = {}
  for i = 1, info.nparams do params[i] = debug.getlocal(f, i) end
  if info.isvararg then params[#params + 1] = "..." end
  return string.format("function(%s)%s", table.concat(params, ", "),
    short and "" or string.format("  -- defined at %s:%d", info.short_src, info.linedefined))
end

local function quote(s)
  return '"' .. BPF.printable(s):gsub('"', '\\"') .. '"'
end

-- words after a heading, wrapped under it at 80 columns
local function wrap(head, words)
  local lines, line = {}, head
  for _, w in ipairs(words) do
    if #line + #w + 1 > 80 and line ~= head then
      lines[#lines + 1] = line
      line = string.rep(" ", #head)
    end
    line = line .. (line:sub(-1) == " " and "" or " ") .. w
  end
  lines[#lines + 1] = line
  return table.concat(lines, "\n")
end

local function methods_of(mt_index, names)
  local list = {}
  for k in pairs(mt_index) do list[#list + 1] = k end
  table.sort(list)
  return wrap(names, list)
end

local function object_lines(b, out)
  local ok, tables = pcall(b.tables, b)
  if not ok then
    out[#out + 1] = "a BPF object, cleaned up: nothing loaded or attached"
    return
  end
  out[#out + 1] = "a BPF object (BPF{}): its program's tables, functions and probes"
  for _, n in ipairs(tables) do
    local t = b:get_table(n)
    local i = t:info()
    out[#out + 1] = string.format("  table %-16s %s, %d of %d entries, key %d B, value %d B",
      BPF.printable(n), i.kind, #t, i.max_entries, i.key_size, i.value_size)
  end
  for _, f in ipairs(b:functions()) do out[#out + 1] = "  function " .. BPF.printable(f) end
  for _, a in ipairs(b:attached()) do out[#out + 1] = "  attached " .. BPF.printable(a) end
  out[#out + 1] = methods_of(BPF.methods, "methods: ")
  out[#out + 1] = 'help("get_table") and so on for one method'
end

-- The text of help(topic).
function M.text(...)
  if select("#", ...) == 0 then return M.OVERVIEW end
  local topic = ...
  local out = {}
  if topic == nil then
    return "help(nil): that name holds nothing (help for the overview, help(\"count\") for one name)"
  elseif topic == BPF then
    entry_lines(DOCS.BPF, out)
    out[#out + 1] = methods_of(BPF.methods, "methods of the object: ")
    local mods = {}
    for k, v in pairs(BPF) do
      if type(v) == "function" and k ~= "new" then mods[#mods + 1] = k end
    end
    table.sort(mods)
    for i, m in ipairs(mods) do mods[i] = "BPF." .. m end
    out[#out + 1] = wrap("module functions:", mods)
  elseif pretty.is_bpf_object(topic) then
    object_lines(topic, out)
  elseif pretty.is_bpf_table(topic) then
    local ok, i = pcall(topic.info, topic)
    if ok then
      out[#out + 1] = string.format("BPF table %s: %s, %d of %d entries, key %d B, value %d B%s",
        BPF.printable(i.name), i.kind, #topic, i.max_entries, i.key_size, i.value_size, i.percpu and ", per CPU" or "")
    else
      out[#out + 1] = "a BPF table of a cleaned-up object"
    end
    out[#out + 1] = methods_of(BPF.table_methods, "methods: ")
    out[#out + 1] = "typed alone, a table is shown as its entries (@name[key]: value)"
  elseif type(topic) == "table" and topic.action and topic.probe then
    out[#out + 1] = string.format("a one-liner's handle: %s{ %q }%s", topic.action, topic.probe,
      topic.closed and ", stopped" or "")
    out[#out + 1] = "  typed alone, it shows its current aggregation"
    for _, n in ipairs({ "read", "print", "clear_", "stop" }) do out[#out + 1] = string.format("  %-12s %s", DOCS[n].sig, DOCS[n].desc) end
  elseif type(topic) == "function" then
    local e = BY_FN[topic]
    if e then entry_lines(e, out) else out[#out + 1] = M.signature(topic) end
  elseif type(topic) == "string" then
    local key = topic:gsub("^:", ""):gsub("^BPF[.:]", ""):gsub("^[bth]:", "")
    local e = DOCS[key] or DOCS["b:" .. key] or DOCS[key .. "_"]
    if not e then
      local names, dup = {}, {}
      for k in pairs(DOCS) do
        local n = k:gsub("_$", "")
        if not dup[n] then dup[n] = true; names[#names + 1] = n end
      end
      table.sort(names)
      return wrap(string.format("no help for %s; topics:", quote(topic)), names)
    end
    entry_lines(e, out)
    if DOCS[key .. "_"] and DOCS[key] then entry_lines(DOCS[key .. "_"], out) end
  else
    out[#out + 1] = string.format("a %s: %s", type(topic), pretty.show(topic))
  end
  return table.concat(out, "\n")
end

return M
