-- runqlat: run-queue latency, the time runnable tasks wait for a CPU, as
-- a log2 histogram: for the host, per process (-P) or per thread (-L).
local probe = require("bpflua.probe")
local keyed = require("bpflua.keyed_hist")
local misses = require("bpflua.misses")

local TRACEPOINTS = { "sched:sched_wakeup", "sched:sched_wakeup_new", "sched:sched_switch" }

-- Linux 5.18 added prev_state to sched_switch's raw arguments
local function switch_has_state()
  local f = io.open("/proc/sys/kernel/osrelease", "r")
  local rel = f and f:read("l") or ""
  if f then f:close() end
  local major, minor = rel:match("^(%d+)%.(%d+)")
  major, minor = tonumber(major) or 0, tonumber(minor) or 0
  return major > 5 or (major == 5 and minor >= 18)
end

return {
  name = "runqlat",
  description = "Run-queue latency (wakeup or preemption to running) as a log2 histogram, per process (-P) or thread (-L)",
  args = {
    { "P", "pids", type = "flag", help = "a histogram per process" },
    { "L", "tids", type = "flag", help = "a histogram per thread" },
    { "m", "milliseconds", type = "flag", help = "in milliseconds (default: microseconds)" },
  },

  check = function(opts)
    if opts.pids and opts.tids then return "-P and -L exclude each other" end
  end,

  init = function(opts)
    for _, tp in ipairs(TRACEPOINTS) do probe.choose("run-queue latency", { { "tracepoint", tp } }) end
    if not BPF.features().raw_tracepoints then
      error(BPF.error("missing", "runqlat needs raw tracepoints (Linux 4.17 or later)",
                      "(`bpflua doctor` shows what this host supports)"))
    end
    local b = probe.load("runqlat", { BY_PROCESS = opts.pids, BY_THREAD = opts.tids, MSECS = opts.milliseconds,
                                      SWITCH_HAS_STATE = switch_has_state() },
                         probe.who(opts))
    opts.out:note(string.format("Tracing run-queue latency%s... Ctrl-C to end.", opts.pid and (" of pid " .. opts.pid) or ""))
    local st = { b = b, hist = b:get_table("hist") }
    if opts.pids or opts.tids then st.comms = b:get_table("comms") end
    return st
  end,

  status = function(st)
    local n = 0
    for _, r in pairs(keyed.read(st.hist)) do n = n + r.count end
    return { events = n }
  end,

  report = function(st, opts)
    local list = keyed.sorted(keyed.read(st.hist))
    local unit = opts.milliseconds and "ms" or "us"
    local idname = opts.pids and "pid" or "tid"
    local function comm(r)
      local c = st.comms and st.comms:get(r.id)
      return c and c.comm or "?"
    end
    keyed.report(opts.out, opts.format, list, unit, opts.milliseconds and "msecs" or "usecs",
      function(r)
        if st.comms then return string.format("%s = %d %s", idname, r.id, BPF.printable(comm(r))) end
      end,
      function(r)
        if st.comms then return { [idname] = r.id, comm = comm(r) }, { { idname }, { "comm" } } end
        return {}, {}
      end)
    st.hist:clear()
    if st.comms then st.comms:clear() end
  end,

  finish = misses.finish("runqlat"),
}
