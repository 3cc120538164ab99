-- oomkill: OOM kills as they happen: the process whose allocation set the
-- OOM killer off, the victim, its memory in pages, and the load average.
local probe = require("bpflua.probe")
local events = require("bpflua.events")

local hooks = events.tracer_hooks("oomkill", "OOM kills")

local COLS = {
  { "time", "TIME", "%-8s" }, { "trigger_pid", "TPID", "%-7d" }, { "trigger_comm", "TCOMM", "%-16s" },
  { "victim_pid", "VPID", "%-7d" }, { "victim_comm", "VCOMM", "%-16s" },
  { "rss_pages", "RSS_PAGES", "%9s" }, { "total_vm_pages", "VM_PAGES", "%9s" }, { "loadavg", "LOADAVG", "%s" },
}

local function has_field(tp, field)
  local dir = BPF.features().tracefs
  local f = dir and io.open(dir .. "/events/" .. tp:gsub(":", "/") .. "/format", "r")
  if not f then return false end
  local s = f:read("a") or ""
  f:close()
  return s:find("field:[^;]*[ *]" .. field .. ";") ~= nil
end

local function read_first_line(path)
  local f = io.open(path, "r")
  if not f then return nil end
  local s = f:read("l")
  f:close()
  return s
end

local function page_kb()
  local kb = 4
  for line in io.lines("/proc/self/smaps_rollup") do
    local n = line:match("^KernelPageSize:%s*(%d+)")
    if n then kb = tonumber(n); break end
  end
  return kb
end

local function on_event(st, opts, e)
  st.n = st.n + 1
  local row = { time = os.date("%H:%M:%S"), trigger_pid = e.trigger_pid, trigger_comm = e.trigger_comm,
                victim_pid = e.victim_pid,
                victim_comm = st.have_comm and e.victim_comm or read_first_line("/proc/" .. e.victim_pid .. "/comm") or "?",
                loadavg = (read_first_line("/proc/loadavg") or ""):match("^(%S+ %S+ %S+)") }
  if st.have_rss then
    row.rss_pages = (e.anon_rss_kb + e.file_rss_kb + e.shmem_rss_kb) // st.page_kb
    row.total_vm_pages = e.total_vm_kb // st.page_kb
  end
  opts.out:record(row, COLS)
  opts.out:flush()
end

return {
  name = "oomkill",
  description = "OOM kills: the triggering process, the victim, its memory in pages, the load average",
  args = {},

  init = function(opts)
    probe.choose("OOM kills", { { "tracepoint", "oom:mark_victim" } })
    local st = { n = 0, have_comm = has_field("oom:mark_victim", "comm"),
                 have_rss = has_field("oom:mark_victim", "anon_rss"), page_kb = page_kb() }
    st.b = probe.load("oomkill", events.defines({ HAVE_COMM = st.have_comm, HAVE_RSS = st.have_rss }, false),
                      probe.who(opts))
    opts.out:header(COLS)
    st.reader = events.open(st.b, "events", function(e) on_event(st, opts, e) end)
    opts.out:note("Tracing OOM kills... Ctrl-C to end.")
    return st
  end,

  poll = hooks.poll,
  status = hooks.status,
  finish = hooks.finish,
}
