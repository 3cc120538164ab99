-- profile: CPU profile by perf-event sampling, with stacks counted in the
-- kernel and symbolized here: top functions, folded stacks, or a flame
-- graph SVG.
local probe = require("bpflua.probe")
local flamegraph = require("bpflua.flamegraph")
local stacks = require("bpflua.stacks")

local DRAIN_EVERY = 0.25 -- seconds: a half of the maps fills for this long (probes/profile.c)

local function frame_name(s)
  return (s:gsub(";", ":"))
end

local function named(frames, suffix)
  local out = {}
  for i, f in ipairs(frames) do out[i] = frame_name(f) .. suffix end
  return out
end

local function samples(st)
  return st.total:get(0) or 0
end

-- Switches the samples to the other half, then moves the counts of the half
-- they left into st.agg, by name: one entry per (comm, [pid,] user stack,
-- kernel stack) as symbols, however many processes and addresses fed it.
-- Stack ids mean nothing once their half is emptied, so they are resolved
-- here and not kept.
local function drain(st)
  local h = st.halves[st.half + 1]
  st.half = 1 - st.half
  st.active:set(0, st.half)
  BPF.sleep(0.001) -- a sample that saw the old half is done long before
  local res = stacks.resolver(st.b, h.stacks)
  for k, n in h.counts:items() do
    local user = k.user_stack >= 0 and named(res:user_frames(k.pid, k.user_stack), "") or {}
    if k.user_stack < 0 and k.user_stack ~= -BPF.EFAULT and not st.kernel_only then
      user = { "[lost stack]" } -- -EFAULT is a kernel thread; anything else found no room in the map
    end
    local kernel = k.kernel_stack >= 0 and named(res:kernel_frames(k.kernel_stack), "_[k]") or {}
    local key = table.concat({ k.comm, st.by_pid and k.pid or "", table.concat(user, ";"),
                               table.concat(kernel, ";") }, "\0")
    local s = st.agg[key]
    if s then
      s.count = s.count + n
    else
      st.agg[key] = { comm = k.comm, pid = k.pid, count = n, user = user, kernel = kernel }
    end
  end
  h.counts:clear()
  h.stacks:clear()
  BPF.sym_trim()
  st.last_resolve = BPF.monotonic()
end

-- Stacks as { comm, pid, count, user = {innermost first}, kernel = {...} },
-- most samples first.
local function collect(st)
  drain(st)
  drain(st) -- and the half that was filling
  local out = {}
  for _, s in pairs(st.agg) do out[#out + 1] = s end
  table.sort(out, function(a, b) return a.count > b.count end)
  return out
end

-- root first: comm; user frames outermost to innermost; kernel frames
local function root_first(s)
  local frames = { frame_name(s.comm) }
  for i = #s.user, 1, -1 do frames[#frames + 1] = s.user[i] end
  for i = #s.kernel, 1, -1 do frames[#frames + 1] = s.kernel[i] end
  return frames
end

local function top_functions(stacks, n)
  local self_, total, all = {}, {}, 0
  for _, s in ipairs(stacks) do
    all = all + s.count
    local leaf = s.kernel[1] or s.user[1] or ("[" .. s.comm .. "]")
    self_[leaf] = (self_[leaf] or 0) + s.count
    local seen = {}
    for _, f in ipairs(s.kernel) do seen[f] = true end
    for _, f in ipairs(s.user) do seen[f] = true end
    seen[leaf] = true
    for f in pairs(seen) do total[f] = (total[f] or 0) + s.count end
  end
  local rows = {}
  for f, c in pairs(total) do
    rows[#rows + 1] = { ["function"] = f, self = self_[f] or 0, total = c,
                        self_pct = all > 0 and (self_[f] or 0) * 100 / all or 0,
                        total_pct = all > 0 and c * 100 / all or 0 }
  end
  table.sort(rows, function(a, b)
    if a.self ~= b.self then return a.self > b.self end
    if a.total ~= b.total then return a.total > b.total end
    return a["function"] < b["function"]
  end)
  if n > 0 then for i = #rows, n + 1, -1 do rows[i] = nil end end
  return rows, all
end

return {
  name = "profile",
  description = "CPU profile by sampling: top functions, folded stacks or a flame graph SVG",
  args = {
    { "F", "frequency", type = "int", default = 99, min = 1, help = "samples per second per CPU" },
    { nil, "max-samples", type = "int", default = 100000, min = 1, help = "stop after N samples" },
    { "U", "user-only", type = "flag", help = "user stacks only" },
    { "K", "kernel-only", type = "flag", help = "kernel stacks only" },
    { nil, "idle", type = "flag", help = "include the idle task" },
    { "T", "top", type = "int", default = 20, min = 0, help = "text format: show the top N functions (0: all)" },
    { nil, "stack-storage", type = "int", default = 8192, min = 16,
      help = "stack ids each of the two stack maps holds (about 1 KB of kernel memory each)" },
    { nil, "format", type = "choice", choices = { "text", "json", "folded", "svg", "pprof", "speedscope" },
      default = "text",
      help = "top functions (text), stacks (json), folded stacks, a flame graph (svg), gzipped pprof protobuf or speedscope JSON" },
  },

  check = function(opts)
    if opts.user_only and opts.kernel_only then return "-U and -K exclude each other" end
    if opts.interval and (opts.format == "svg" or opts.format == "folded" or opts.format == "pprof"
                          or opts.format == "speedscope") then
      return "-i works with text and json output; a flame graph covers the whole run"
    end
    if opts.frequency > 100000 then return "-F: at most 100000 Hz" end
  end,

  init = function(opts)
    local b = probe.load("profile", {
      INCLUDE_IDLE = opts.idle, USER_ONLY = opts.user_only, KERNEL_ONLY = opts.kernel_only,
      STACK_ENTRIES = opts.stack_storage ~= 8192 and opts.stack_storage,
    }, probe.who(opts, { max_events = opts.max_samples }))
    b:attach_perf_event{ ev_type = BPF.PERF_TYPE_SOFTWARE, ev_config = BPF.PERF_COUNT_SW_CPU_CLOCK,
                         fn_name = "on_sample", sample_freq = opts.frequency, pid = -1, cpu = -1 }
    opts.out:note(string.format("Sampling %s at %d Hz%s... Ctrl-C to end.",
      opts.pid and ("pid " .. opts.pid) or "all CPUs", opts.frequency,
      opts.duration and string.format(" for %g s", opts.duration) or ""))
    return { b = b, total = b:get_table("total"), active = b:get_table("active"), half = 0, agg = {},
             halves = { { counts = b:get_table("counts0"), stacks = b:get_table("stacks0") },
                        { counts = b:get_table("counts1"), stacks = b:get_table("stacks1") } },
             by_pid = opts.format == "json", last_resolve = BPF.monotonic(), kernel_only = opts.kernel_only,
             start_ns = BPF.realtime_ns() }
  end,

  poll = stacks.poll_resolving(DRAIN_EVERY, drain),

  status = function(st)
    return { events = samples(st) }
  end,

  stop_when = function(st, opts)
    if samples(st) >= opts.max_samples then
      st.capped = true
      return true
    end
  end,

  report = function(st, opts, final)
    local stacks = collect(st)
    local out = opts.out
    if opts.format == "pprof" then
      out:write(require("bpflua.pprof").encode(stacks, { frequency = opts.frequency, time_ns = st.start_ns,
                                                         duration_ns = BPF.realtime_ns() - st.start_ns }))
    elseif opts.format == "folded" or opts.format == "svg" or opts.format == "speedscope" then
      local list = {}
      for _, s in ipairs(stacks) do list[#list + 1] = { frames = root_first(s), count = s.count } end
      if opts.format == "speedscope" then
        out:write(require("bpflua.speedscope").encode(list, { name = string.format("CPU profile, %d Hz", opts.frequency) }))
      elseif opts.format == "folded" then
        for _, l in ipairs(flamegraph.folded(list)) do out:write(l .. "\n") end
      else
        out:write(flamegraph.svg(list, string.format("CPU profile, %d Hz%s", opts.frequency,
          opts.pid and (", pid " .. opts.pid) or "")))
      end
    elseif opts.format == "json" then
      for _, s in ipairs(stacks) do
        out:record({ pid = s.pid, comm = s.comm, count = s.count, ustack = s.user, kstack = s.kernel },
                   { { "pid" }, { "comm" }, { "count" }, { "ustack" }, { "kstack" } })
      end
    else
      local rows, all = top_functions(stacks, opts.top)
      out:table(rows, { { "self", "SELF", "%8d" }, { "self_pct", "SELF%", "%6.1f" },
                        { "total", "TOTAL", "%8d" }, { "total_pct", "TOTAL%", "%6.1f" },
                        { "function", "FUNCTION", "%s" } })
      out:text(string.format("%d samples", all))
    end
    out:flush()
    if final and st.capped then
      out:note(string.format("profile: stopped after %d samples (--max-samples)", opts.max_samples))
    end
    if not final then
      st.agg = {}
      st.total:set(0, 0)
      -- the interval's stacks, names and resolvers are garbage now: a full
      -- cycle keeps a long run's heap at one interval's worth
      collectgarbage()
    end
  end,
}
