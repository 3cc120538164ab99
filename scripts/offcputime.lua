-- offcputime: time threads spent off a CPU (blocked, sleeping, waiting for
-- it), by user and kernel stack and by the state they left it in: the
-- stacks with the most time, folded stacks, a flame graph SVG, or JSON.
local probe = require("bpflua.probe")
local flamegraph = require("bpflua.flamegraph")
local stacks = require("bpflua.stacks")
local misses = require("bpflua.misses")

local K = probe.constants("offcputime.h")

-- Linux 5.18 added prev_state to sched_switch's raw arguments
local function switch_has_state()
  local f = io.open("/proc/sys/kernel/osrelease", "r")
  local rel = f and f:read("l") or ""
  if f then f:close() end
  local major, minor = rel:match("^(%d+)%.(%d+)")
  major, minor = tonumber(major) or 0, tonumber(minor) or 0
  return major > 5 or (major == 5 and minor >= 18)
end

-- the state a task left the CPU in, as ps shows it
local function state_letter(s)
  if s == K.OFFCPU_PREEMPTED or s == 0 then return "R" end
  if s == K.OFFCPU_UNKNOWN then return "?" end
  if s & 0x402 == 0x402 then return "I" end -- TASK_IDLE: uninterruptible, not counted as load
  if s & 0x2 ~= 0 then return "D" end
  if s & 0x1 ~= 0 then return "S" end
  if s & 0x4 ~= 0 then return "T" end
  if s & 0x8 ~= 0 then return "t" end
  if s & 0x80 ~= 0 then return "X" end
  if s & 0x40 ~= 0 then return "P" end
  return "?"
end

local function frame_name(s)
  return (s:gsub(";", ":"))
end

local function named(frames, suffix)
  local out = {}
  for i, f in ipairs(frames) do out[i] = frame_name(f) .. suffix end
  return out
end

-- the frames of the tracing itself, innermost first, above __schedule
local function tracing_frame(f)
  return f:match("^bpf_prog_") or f:match("^bpf_trace_run") or f:match("^__traceiter_") or f:match("^__bpf_trace_")
end

local function kernel_frames(res, id)
  local frames = res:kernel_frames(id)
  local first = 1
  while frames[first] and tracing_frame(frames[first]) do first = first + 1 end
  return named({ table.unpack(frames, first) }, "_[k]")
end

-- A process takes its memory map along when it exits: user stacks are
-- resolved while their processes still run, every tenth of a second, into a
-- resolver kept until the stack map is emptied.
local function resolve(st)
  for k in st.counts:items() do
    if k.user_stack >= 0 then st.res:user_frames(k.pid, k.user_stack) end
  end
end

-- { pid, tid, comm, state, count, us, user = {innermost first}, kernel = {...} },
-- most time first; the maps are emptied
local function collect(st, opts)
  resolve(st)
  local res = st.res
  local agg = {}
  for k, v in st.counts:items() do
    local state = state_letter(k.state)
    if not opts.state or opts.state:find(state, 1, true) then
      local user = k.user_stack >= 0 and named(res:user_frames(k.pid, k.user_stack), "") or {}
      if k.user_stack < 0 and k.user_stack ~= -BPF.EFAULT and not opts.kernel_only then user = { "[lost stack]" } end
      local kernel = k.kernel_stack >= 0 and kernel_frames(res, k.kernel_stack) or {}
      local key = table.concat({ k.tid, state, table.concat(user, ";"), table.concat(kernel, ";") }, "\0")
      local s = agg[key]
      if s then
        s.count, s.ns = s.count + v.count, s.ns + v.ns
      else
        agg[key] = { pid = k.pid, tid = k.tid, comm = k.comm, state = state, count = v.count, ns = v.ns,
                     user = user, kernel = kernel }
      end
    end
  end
  st.counts:clear()
  st.stacks:clear()
  st.res = stacks.resolver(st.b, st.stacks)
  local out = {}
  for _, s in pairs(agg) do
    s.us = s.ns // 1000
    out[#out + 1] = s
  end
  table.sort(out, function(a, b)
    if a.ns ~= b.ns then return a.ns > b.ns end
    return a.tid < b.tid
  end)
  return out
end

-- root first: comm, state, user frames outermost first, kernel frames
local function root_first(s)
  local frames = { frame_name(s.comm), "[" .. s.state .. "]" }
  for i = #s.user, 1, -1 do frames[#frames + 1] = s.user[i] end
  for i = #s.kernel, 1, -1 do frames[#frames + 1] = s.kernel[i] end
  return frames
end

local function text_report(out, list, top)
  for i, s in ipairs(list) do
    if top > 0 and i > top then break end
    for _, f in ipairs(s.kernel) do out:text("    " .. BPF.printable(f)) end
    if #s.kernel > 0 and #s.user > 0 then out:text("    --") end
    for _, f in ipairs(s.user) do out:text("    " .. BPF.printable(f)) end
    out:text(string.format("    -                %s (%d) state %s", BPF.printable(s.comm), s.tid, s.state))
    out:text(string.format("        %d us in %d blocks", s.us, s.count))
    out:text("")
  end
end

return {
  name = "offcputime",
  description = "Off-CPU time by stack and task state: top stacks, folded stacks, a flame graph SVG, JSON",
  args = {
    { "m", "min-block", type = "int", default = 1, min = 0, metavar = "US",
      help = "leave out blocks shorter than US microseconds" },
    { "M", "max-block", type = "int", min = 1, metavar = "US", help = "leave out blocks longer than US microseconds" },
    { "s", "state", type = "string", metavar = "LETTERS",
      help = "only these states: S sleeping, D uninterruptible, I idle, R preempted, T stopped (e.g. SD)" },
    { "U", "user-only", type = "flag", help = "user stacks only" },
    { "K", "kernel-only", type = "flag", help = "kernel stacks only" },
    { "T", "top", type = "int", default = 20, min = 0, help = "text format: the N stacks with the most time (0: all)" },
    { nil, "stack-storage", type = "int", default = 16384, min = 16, help = "stack ids the stack map holds" },
    { nil, "format", type = "choice", choices = { "text", "json", "folded", "svg", "pprof", "speedscope" },
      default = "text",
      help = "top stacks (text), stacks (json), folded stacks in microseconds, a flame graph (svg), gzipped pprof protobuf or speedscope JSON" },
  },

  check = function(opts)
    if opts.user_only and opts.kernel_only then return "-U and -K exclude each other" end
    if opts.max_block and opts.max_block < opts.min_block then return "-M must not be below -m" end
    if opts.state and not opts.state:match("^[SDIRTtXP?]+$") then
      return "-s takes state letters: S, D, I, R, T, t, X, P"
    end
    if opts.interval and opts.format ~= "text" and opts.format ~= "json" then
      return "-i works with text and json output; a flame graph or a profile covers the whole run"
    end
  end,

  init = function(opts)
    probe.choose("off-CPU time", { { "tracepoint", "sched:sched_switch" } })
    if not BPF.features().raw_tracepoints then
      error(BPF.error("missing", "offcputime needs raw tracepoints (Linux 4.17 or later)",
                      "(`bpflua doctor` shows what this host supports)"))
    end
    local b = probe.load("offcputime", {
      SWITCH_HAS_STATE = switch_has_state(), USER_ONLY = opts.user_only, KERNEL_ONLY = opts.kernel_only,
      STACK_ENTRIES = opts.stack_storage ~= 16384 and opts.stack_storage,
    }, probe.who(opts))
    b:get_table("limits"):set(0, { min_ns = opts.min_block * 1000, max_ns = (opts.max_block or 0) * 1000 })
    opts.out:note(string.format("Tracing off-CPU time%s... Ctrl-C to end.", opts.pid and (" of pid " .. opts.pid) or ""))
    local st = { b = b, counts = b:get_table("counts"), stacks = b:get_table("stacks"), last_resolve = BPF.monotonic(),
                 start_ns = BPF.realtime_ns() }
    st.res = stacks.resolver(b, st.stacks)
    return st
  end,

  poll = stacks.poll_resolving(0.1, resolve),

  report = function(st, opts)
    local list = collect(st, opts)
    local out = opts.out
    if opts.format == "pprof" then
      out:write(require("bpflua.pprof").encode(list, { kind = "offcpu", time_ns = st.start_ns,
                                                       duration_ns = BPF.realtime_ns() - st.start_ns }))
    elseif opts.format == "folded" or opts.format == "svg" or opts.format == "speedscope" then
      local fl = {}
      for _, s in ipairs(list) do fl[#fl + 1] = { frames = root_first(s), count = s.us } end
      if opts.format == "speedscope" then
        out:write(require("bpflua.speedscope").encode(fl, { name = "Off-CPU time", unit = "microseconds" }))
      elseif opts.format == "folded" then
        for _, l in ipairs(flamegraph.folded(fl)) do out:write(l .. "\n") end
      else
        out:write(flamegraph.svg(fl, "Off-CPU time" .. (opts.pid and (", pid " .. opts.pid) or ""), "us"))
      end
    elseif opts.format == "json" then
      for _, s in ipairs(list) do
        out:record({ pid = s.pid, tid = s.tid, comm = s.comm, state = s.state, blocks = s.count, us = s.us,
                     ustack = s.user, kstack = s.kernel },
                   { { "pid" }, { "tid" }, { "comm" }, { "state" }, { "blocks" }, { "us" }, { "ustack" }, { "kstack" } })
      end
    else
      text_report(out, list, opts.top)
    end
    out:flush()
  end,

  finish = misses.finish("offcputime"),
}
