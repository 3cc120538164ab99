-- The Lua half of bpflua, loaded before any script runs: adds the methods
-- that are about looks (histograms) to BPF's tables, and makes os.exit
-- close the state so every probe is detached on the way out.
local hist = require("bpflua.hist")

local T = BPF.table_methods
T.print_log2_hist = hist.print_log2_hist
T.print_linear_hist = hist.print_linear_hist

-- BCC's per-CPU tables give a list per key; sum() folds it.
function T:sum(key)
  return require("bpflua.percpu").sum(self:get(key))
end

-- Compile errors point into "/virtual/main.c", the text libbcc was given.
-- When that text sits in the calling Lua file (a [[ long string ]]), point
-- at the file's own lines instead.
local function text_line_in(file, text)
  local f = file and io.open(file, "r")
  if not f then return nil end
  local src = f:read("a")
  f:close()
  local at = src:find(text, 1, true)
  if not at then return nil end
  local _, newlines = src:sub(1, at - 1):gsub("\n", "")
  return newlines + 1
end

local new = BPF.new
local function bpf_new(args)
  local ok, obj = pcall(new, args)
  if ok then return obj end
  local msg = tostring(obj):gsub("^[^\n]-:%d+: ", "", 1)
  -- the script's frame: the first one that is neither C nor this file
  local here, info = debug.getinfo(1, "S").source
  for level = 2, 12 do
    info = debug.getinfo(level, "Sl")
    if not info or (info.what ~= "C" and info.source ~= here) then break end
  end
  local file = info and info.source:match("^@(.*)")
  if type(args) == "table" and type(args.text) == "string" and msg:find("/virtual/main.c:", 1, true) then
    local first = text_line_in(file, args.text)
    if first then
      msg = msg:gsub("/virtual/main%.c:(%d+):", function(n)
        return string.format("%s:%d:", file, first + tonumber(n) - 1)
      end)
    end
  end
  if info and info.currentline and info.currentline > 0 then
    msg = string.format("%s:%d: %s", info.short_src, info.currentline, msg)
  end
  error(msg, 0)
end
BPF.new = bpf_new
getmetatable(BPF).__call = function(_, args) return bpf_new(args) end

-- BCC's names for what reads trace_pipe (bpf_trace_printk's output) and
-- for the kernel's symbols. Every wait ends on Ctrl-C.
local M = BPF.methods

-- b:trace_readline([timeout]): a line of trace_pipe; nil on timeout or
-- Ctrl-C. No timeout waits; true (BCC's nonblocking) does not.
local function timeout_of(t)
  if t == true then return 0 end
  if t == false then return nil end
  return t
end
function M:trace_readline(nonblocking) return BPF.trace_readline(timeout_of(nonblocking)) end

-- "  task-123  [001] d..31  123.456789: bpf_trace_printk: msg" ->
-- task, pid, cpu, flags, ts, msg (BCC's trace_fields, numbers as numbers)
local function fields_of(line)
  if line:find("^CPU:") then return nil end -- "CPU:N [LOST M EVENTS]"
  local task, rest = line:sub(1, 16):match("^%s*(.-)$"), line:sub(18)
  local head, tail = rest:match("^([^:]*):(.*)$")
  if not head then return nil end
  local pid, cpu, flags, ts = head:match("^%s*(%d+)%s+%[(%d+)%]%s+(%S+)%s+(%S+)%s*$")
  if not pid then
    pid, cpu, ts = head:match("^%s*(%d+)%s+%[(%d+)%]%s+(%S+)%s*$") -- no flags column
    flags = ""
  end
  if not pid then return nil end
  local msg = tail:match("^%s*[^:]*:%s?(.*)$") or tail
  return task, tonumber(pid), tonumber(cpu), flags, tonumber(ts) or ts, msg
end
M._trace_fields_of = fields_of

-- b:trace_fields([nonblocking or timeout]) -> task, pid, cpu, flags, ts, msg;
-- nils when nothing came (nonblocking, the timeout, or Ctrl-C).
function M:trace_fields(nonblocking)
  local timeout = timeout_of(nonblocking)
  local deadline = timeout and BPF.monotonic() + timeout
  while true do
    local left = deadline and math.max(0, deadline - BPF.monotonic())
    local line = BPF.trace_readline(left)
    if not line then return nil end
    local task, pid, cpu, flags, ts, msg = fields_of(line)
    if task then return task, pid, cpu, flags, ts, msg end
  end
end

-- b:trace_print([fmt], [{ count =, timeout = }]): prints trace_pipe's lines
-- until Ctrl-C (or count lines, or timeout seconds); fmt is BCC's, with
-- {0}..{5} for task, pid, cpu, flags, ts, msg. Returns the lines printed.
function M:trace_print(fmt, opts)
  opts = opts or {}
  local deadline = opts.timeout and BPF.monotonic() + opts.timeout
  local n = 0
  while not opts.count or n < opts.count do
    local left = deadline and math.max(0, deadline - BPF.monotonic())
    if left == 0 then break end
    local line, why = BPF.trace_readline(left)
    if not line then
      if why == "interrupted" or deadline then break end
    else
      if fmt then
        local f = table.pack(fields_of(line))
        line = f[1] and fmt:gsub("{(%d+)}", function(i) return tostring(f[tonumber(i) + 1]) end)
      end
      if line then
        io.stdout:write(line, "\n")
        io.stdout:flush()
        n = n + 1
      end
    end
  end
  return n
end

-- BCC's get_syscall_fnname("clone") -> "__x64_sys_clone": the prefix this
-- kernel gives its syscall functions.
local syscall_prefix
local PREFIXES = { "sys_", "__x64_sys_", "__x32_compat_sys_", "__ia32_compat_sys_", "__arm64_sys_",
                   "__s390x_sys_", "__s390_sys_", "__riscv_sys_" }
function BPF.get_syscall_prefix()
  if not syscall_prefix then
    syscall_prefix = "sys_"
    for _, p in ipairs(PREFIXES) do
      if BPF.ksymname(p .. "bpf") then syscall_prefix = p break end
    end
  end
  return syscall_prefix
end
function M:get_syscall_fnname(name) return BPF.get_syscall_prefix() .. name end
function M:get_syscall_prefix() return BPF.get_syscall_prefix() end
function M:ksymname(name) return BPF.ksymname(name) or -1 end
function M:tracepoint_exists(category, event) return BPF.tracepoint_exists(category, event) end
function M:add_module(path) return BPF.add_module(path) end
USDT = BPF.USDT

local exit = os.exit
os.exit = function(code, _) exit(code, true) end

return {}
