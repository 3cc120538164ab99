-- execsnoop: programs as they are executed (execve, execveat): command,
-- pid, parent pid, result and arguments, one line per call.
local probe = require("bpflua.probe")
local events = require("bpflua.events")

local hooks = events.tracer_hooks("execsnoop", "execs")
local K = probe.constants("execsnoop.h")

local COLS = {
  { "comm", "PCOMM", "%-16s" }, { "pid", "PID", "%-7d" }, { "ppid", "PPID", "%-7d" },
  { "ret", "RET", "%4d" }, { "args", "ARGS", "%s" },
}
local JSON_COLS = {
  { "comm" }, { "pid" }, { "ppid" }, { "ret" }, { "errno" }, { "args" }, { "args_truncated" },
}

-- The parent of a process forked before the trace began, from /proc while
-- it still runs (0 once it is gone).
local function proc_ppid(pid)
  local f = io.open("/proc/" .. pid .. "/status", "r")
  if not f then return 0 end
  local s = f:read("a") or ""
  f:close()
  return math.tointeger(tonumber(s:match("\nPPid:%s*(%d+)"))) or 0
end

local function on_event(st, opts, e)
  if opts.fails and e.retval >= 0 then return end
  if opts.name and not e.comm:find(opts.name, 1, true) then return end
  local list = {}
  for i = 1, math.min(e.argc, opts.max_args) do list[i] = e.args[i] end
  local cut = e.more ~= 0 or e.argc > opts.max_args
  if opts.line then
    local hit = false
    for _, a in ipairs(list) do hit = hit or a:find(opts.line, 1, true) ~= nil end
    if not hit then return end
  end
  st.n = st.n + 1
  local row = { comm = e.comm, pid = e.pid, ppid = e.ppid ~= 0 and e.ppid or proc_ppid(e.pid), ret = e.retval,
                errno = e.retval < 0 and BPF.errno_name(-e.retval) or nil }
  if opts.format == "json" then
    row.args, row.args_truncated = list, cut
    opts.out:record(row, JSON_COLS)
  else
    local text = table.concat(list, " ")
    if cut then text = text .. " ..." end
    if row.errno then text = text .. "  (" .. row.errno .. ")" end
    row.args = text
    opts.out:record(row, COLS)
  end
  opts.out:flush()
end

return {
  name = "execsnoop",
  description = "Program executions (execve, execveat): command, pid, parent, result and arguments",
  args = {
    { "x", "fails", type = "flag", help = "only failed execs" },
    { "n", "name", type = "string", help = "only commands whose name contains NAME" },
    { "l", "line", type = "string", help = "only execs with an argument containing LINE" },
    { nil, "max-args", type = "int", default = K.EXECSNOOP_MAXARG, min = 1, max = K.EXECSNOOP_MAXARG,
      help = string.format("arguments shown per exec, the file name first (each cut to %d bytes)",
                           K.EXECSNOOP_ARGSIZE - 1) },
  },

  init = function(opts)
    for _, tp in ipairs({ "syscalls:sys_enter_execve", "syscalls:sys_exit_execve", "sched:sched_process_fork" }) do
      probe.choose("program executions", { { "tracepoint", tp } })
    end
    local st = { n = 0 }
    st.b = probe.load("execsnoop", events.defines({ BL_PARENTS = true }, true),
                      probe.who(opts, { fork_hooks = true }))
    opts.out:header(COLS)
    st.reader = events.open(st.b, "events", function(e) on_event(st, opts, e) end, { timed = true })
    opts.out:note("Tracing program executions... Ctrl-C to end.")
    return st
  end,

  poll = hooks.poll,
  status = hooks.status,
  finish = hooks.finish,
}
