-- opensnoop: files as processes open them (open, openat, openat2): pid,
-- command, descriptor or error (by errno name), flags and path.
local probe = require("bpflua.probe")
local events = require("bpflua.events")

local hooks = events.tracer_hooks("opensnoop", "opens")
local K = probe.constants("opensnoop.h")

local COLS = {
  { "pid", "PID", "%-7d" }, { "comm", "COMM", "%-16s" }, { "fd", "FD", "%4d" },
  { "err", "ERR", "%-7s" }, { "path", "PATH", "%s" },
}
local EXTENDED = {
  { "pid", "PID", "%-7d" }, { "comm", "COMM", "%-16s" }, { "fd", "FD", "%4d" },
  { "err", "ERR", "%-7s" }, { "flags_octal", "FLAGS", "%-8s" }, { "path", "PATH", "%s" },
}
local JSON_COLS = { { "pid" }, { "tid" }, { "comm" }, { "fd" }, { "ret" }, { "err" }, { "flags" }, { "path" } }

local function on_event(st, opts, e)
  if opts.fails and e.ret >= 0 then return end
  if opts.name and not e.comm:find(opts.name, 1, true) then return end
  st.n = st.n + 1
  local failed = e.ret < 0
  local row = { pid = e.pid, tid = e.tid, comm = e.comm, fd = not failed and e.ret or -1, ret = e.ret,
                err = failed and BPF.errno_name(-e.ret) or nil,
                flags = e.flags, path = e.path }
  if opts.format ~= "json" then
    row.err = row.err or "0"
    if opts.extended then row.flags_octal = string.format("%07o", e.flags) end
  end
  opts.out:record(row, opts.format == "json" and JSON_COLS or (opts.extended and EXTENDED or COLS))
  opts.out:flush()
end

local function exists(tp)
  local ok = pcall(probe.choose, "", { { "tracepoint", tp } })
  return ok
end

return {
  name = "opensnoop",
  description = "File opens (open, openat, openat2): pid, command, descriptor or errno name, path",
  args = {
    { "x", "fails", type = "flag", help = "only failed opens" },
    { "n", "name", type = "string", help = "only commands whose name contains NAME" },
    { "e", "extended", type = "flag", help = "text: a column with the open flags (octal)" },
  },

  init = function(opts)
    for _, tp in ipairs({ "syscalls:sys_enter_openat", "syscalls:sys_exit_openat" }) do
      probe.choose("file opens", { { "tracepoint", tp } })
    end
    local st = { n = 0 }
    st.b = probe.load("opensnoop", events.defines({
      HAVE_OPEN = exists("syscalls:sys_enter_open"), HAVE_OPENAT2 = exists("syscalls:sys_enter_openat2"),
    }, true), probe.who(opts))
    opts.out:header(opts.extended and EXTENDED or COLS)
    st.reader = events.open(st.b, "events", function(e) on_event(st, opts, e) end, { timed = true })
    opts.out:note(string.format("Tracing file opens (paths cut to %d bytes)... Ctrl-C to end.", K.OPENSNOOP_PATHSIZE - 1))
    return st
  end,

  poll = hooks.poll,
  status = hooks.status,
  finish = hooks.finish,
}
