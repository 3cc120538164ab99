-- syscount: the syscalls a host (or one process) makes: counts, errors by
-- errno (-x), latency totals and log2 histograms (-L), per syscall or per
-- process (-P).
local probe = require("bpflua.probe")
local hist = require("bpflua.hist")

-- latency values: per-CPU (by syscall) or one struct (by process)
local sum, sum_lat = require("bpflua.percpu").sum, require("bpflua.percpu").sum_lat

local HIST_SLOTS = probe.constants("syscount.h").HIST_SLOTS

local function by_count(a, b)
  if a.count ~= b.count then return a.count > b.count end
  return tostring(a.name or a.syscall or a.comm) .. tostring(a.errno) < tostring(b.name or b.syscall or b.comm) .. tostring(b.errno)
end

local function truncate(rows, n)
  if n > 0 then for i = #rows, n + 1, -1 do rows[i] = nil end end
  return rows
end

-- JSON histograms: the non-empty buckets, in microseconds
local function hist_json(vals)
  local out = {}
  local keys = {}
  for k in pairs(vals) do keys[#keys + 1] = k end
  table.sort(keys)
  for _, k in ipairs(keys) do
    local lo, hi = hist.log2_bounds(k)
    out[#out + 1] = { from_us = lo, to_us = hi, count = vals[k] }
  end
  return out
end

-- what a key names: a syscall, or (-P) a process's command
local function namer(st, opts)
  if not opts.process then return BPF.syscall_name end
  return function(k)
    local c = st.comms:get(k)
    return c and c.comm or "?"
  end
end

-- -x: { errno, count, syscall or pid and comm } for each errno seen
local function error_rows(st, opts, name_of)
  local rows = {}
  for k, v in st.errors:items() do
    local n = sum(v)
    if n > 0 then
      local r = { errno = BPF.errno_name(k.err), count = n }
      if opts.process then r.pid, r.comm = k.key, name_of(k.key) else r.syscall = name_of(k.key) end
      rows[#rows + 1] = r
    end
  end
  return rows
end

-- { key, name, count, total_us, avg_us } for each syscall (or process) seen
local function count_rows(st, name_of)
  local rows, index = {}, {}
  for k, v in st.counts:items() do
    local n = sum(v)
    if n > 0 then
      local r = { key = k, name = name_of(k), count = n }
      rows[#rows + 1] = r
      index[k] = r
    end
  end
  if not st.latency then return rows end
  for k, v in st.latency:items() do
    local r = index[k]
    local c, ns = sum_lat(v)
    if r and c > 0 then
      r.total_us = ns // 1000
      r.avg_us = math.floor(ns / c / 10 + 0.5) / 100
    end
  end
  return rows
end

-- the latency histograms: key -> { slot = count }
local function hist_buckets(st)
  local hists = {}
  if not st.hist then return hists end
  for i, v in st.hist:items() do
    local n = sum(v)
    if n > 0 then
      local key, slot = i // HIST_SLOTS, i % HIST_SLOTS
      hists[key] = hists[key] or {}
      hists[key][slot] = n
    end
  end
  return hists
end

-- The report's rows, sorted by count and cut to --top, and the histograms
-- by key.
local function collect(st, opts)
  local name_of = namer(st, opts)
  local rows = opts.errors and error_rows(st, opts, name_of) or count_rows(st, name_of)
  table.sort(rows, by_count)
  truncate(rows, opts.top)
  if opts.process and not opts.errors then
    for _, r in ipairs(rows) do r.pid = r.key end
  end
  return rows, hist_buckets(st)
end

local function error_columns(opts)
  if opts.process then
    return { { "pid", "PID", "%-8d" }, { "comm", "COMM", "%-16s" }, { "errno", "ERRNO", "%-14s" }, { "count", "COUNT", "%10d" } }
  end
  return { { "syscall", "SYSCALL", "%-22s" }, { "errno", "ERRNO", "%-14s" }, { "count", "COUNT", "%10d" } }
end

-- name: what the name column is called in records (text rows carry "name")
local function count_columns(opts, name)
  local cols = opts.process
    and { { "pid", "PID", "%-8d" }, { name or "name", "COMM", "%-16s" }, { "count", "COUNT", "%10d" } }
    or { { name or "name", "SYSCALL", "%-22s" }, { "count", "COUNT", "%10d" } }
  if opts.latency then
    cols[#cols + 1] = { "total_us", "TIME(us)", "%14d" }
    cols[#cols + 1] = { "avg_us", "AVG(us)", "%12.2f" }
  end
  return cols
end

-- a table, then each row's histogram under its name
local function report_text(rows, hists, opts)
  opts.out:table(rows, count_columns(opts))
  for _, r in ipairs(rows) do
    local h = hists[r.key]
    if h then
      opts.out:text("")
      opts.out:text(r.name .. ":")
      for _, l in ipairs(hist.log2_lines(h, "usecs")) do opts.out:text(l) end
    end
  end
end

-- one object per row, named syscall or comm, its histogram inside
local function report_json(rows, hists, st, opts)
  local name = opts.process and "comm" or "syscall"
  for _, r in ipairs(rows) do
    r[name] = r.name
    if st.hist then r.hist = hist_json(hists[r.key] or {}) end
    r.key, r.name = nil, nil
  end
  local cols = count_columns(opts, name)
  if st.hist then cols[#cols + 1] = { "hist" } end
  opts.out:table(rows, cols)
end

return {
  name = "syscount",
  description = "Syscall counts, errors (-x) and latency (-L), per syscall or per process (-P)",
  args = {
    { "T", "top", type = "int", default = 10, min = 0, help = "show the top N rows (0: all)" },
    { "P", "process", type = "flag", help = "count per process instead of per syscall" },
    { "x", "errors", type = "flag", help = "count failed calls, by errno" },
    { "L", "latency", type = "flag", help = "latency: total and average, and a log2 histogram per syscall" },
    { nil, "comm", type = "string", help = "only processes with this command name" },
    { "s", "syscall", type = "string", help = "only this syscall (a name such as openat)" },
  },

  check = function(opts)
    if opts.syscall and not BPF.syscall_number(opts.syscall) then
      return "no syscall named '" .. opts.syscall .. "' on this machine"
    end
    if opts.comm and (#opts.comm > 15 or opts.comm:find('[%c"\\]')) then
      return "--comm wants a command name of at most 15 plain characters"
    end
  end,

  init = function(opts)
    local b = probe.load("syscount", {
      FILTER_NR = opts.syscall and BPF.syscall_number(opts.syscall),
      FILTER_COMM = opts.comm and ('"' .. opts.comm .. '"'),
      BY_PROCESS = opts.process, ERRORS = opts.errors,
      LATENCY = opts.latency, HIST = opts.latency and not opts.process,
    }, probe.who(opts))
    local what = opts.pid and (" of pid " .. opts.pid) or (opts.comm and (" of " .. opts.comm) or "")
    opts.out:note(string.format("Tracing syscalls%s%s... Ctrl-C to end.", what,
      opts.duration and string.format(" for %g s", opts.duration) or ""))
    local st = { b = b, counts = b:get_table("counts") }
    if opts.process then st.comms = b:get_table("comms") end
    if opts.errors then st.errors = b:get_table("errors") end
    if opts.latency then st.latency = b:get_table("latency") end
    if opts.latency and not opts.process then st.hist = b:get_table("hist") end
    return st
  end,

  -- the status line on a terminal: syscalls counted so far
  status = function(st)
    local n = 0
    for _, v in st.counts:items() do n = n + sum(v) end
    return { events = n }
  end,

  report = function(st, opts, final)
    local rows, hists = collect(st, opts)
    if opts.errors then
      opts.out:table(rows, error_columns(opts))
    elseif opts.format == "json" then
      report_json(rows, hists, st, opts)
    else
      report_text(rows, hists, opts)
    end
    if final then return end -- nothing counts after the last report: no clearing (a syscall per slot)
    st.counts:clear()
    if st.errors then st.errors:clear() end
    if st.latency then st.latency:clear() end
    if st.hist then st.hist:clear() end
  end,
}
