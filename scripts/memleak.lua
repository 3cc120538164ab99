-- memleak: outstanding allocations of one process, grouped by user stack,
-- largest first; uprobes on the C allocator, aggregated in the kernel.
-- With --kernel: kernel allocations through the kmem tracepoints instead.
local probe = require("bpflua.probe")
local hist = require("bpflua.hist")
local stacks = require("bpflua.stacks")

-- allocator entry points: function, enter handler, exit handler
local USER_PROBES = {
  { "malloc", "malloc_enter", "malloc_exit" },
  { "calloc", "calloc_enter", "calloc_exit" },
  { "realloc", "realloc_enter", "realloc_exit" },
  { "aligned_alloc", "aligned_alloc_enter", "aligned_alloc_exit" },
  { "posix_memalign", "posix_memalign_enter", "posix_memalign_exit" },
  { "mmap", "mmap_enter", "mmap_exit" },
  { "free", "free_enter" },
  { "munmap", "munmap_enter" },
}

local RESOLVE_EVERY = 0.2 -- seconds; see bpflua/stacks.lua

local function stack_of(st, id)
  if id < 0 then return { "[lost stack]" } end
  if st.kernel then return st.res:kernel_frames(id) end
  return st.res:user_frames(st.stack_pids:get(id) or st.pid, id)
end

local function resolve(st)
  for id in st.combined:items() do stack_of(st, id) end
end

-- rows { bytes, allocations, stack } for blocks older than min_age
local function outstanding(st, opts)
  resolve(st)
  local rows = {}
  if (opts.min_age or 0) <= 0 then
    for id, c in st.combined:items() do
      if c.count > 0 then rows[#rows + 1] = { bytes = c.bytes, allocations = c.count, stack = stack_of(st, id) } end
    end
  else
    local cutoff = BPF.monotonic_ns() - math.floor(opts.min_age * 1e9)
    local by = {}
    for _, a in st.allocs:items() do
      if a.ts <= cutoff then
        local r = by[a.stack_id]
        if not r then
          r = { bytes = 0, allocations = 0, stack = stack_of(st, a.stack_id) }
          by[a.stack_id] = r
          rows[#rows + 1] = r
        end
        r.bytes = r.bytes + a.size
        r.allocations = r.allocations + 1
      end
    end
  end
  table.sort(rows, function(a, b)
    if a.bytes ~= b.bytes then return a.bytes > b.bytes end
    return table.concat(a.stack, ";") < table.concat(b.stack, ";")
  end)
  return rows
end

return {
  name = "memleak",
  description = "Outstanding allocations by stack (malloc and friends, or kernel kmem with --kernel)",
  args = {
    { nil, "min-age", type = "number", default = 0, help = "only allocations older than SECONDS" },
    { "T", "top", type = "int", default = 10, min = 0, help = "show the N largest stacks (0: all)" },
    { nil, "sizes", type = "flag", help = "also a log2 histogram of allocation sizes" },
    { nil, "kernel", type = "flag", help = "kernel allocations (kmem tracepoints), system-wide" },
    { nil, "format", type = "choice", choices = { "text", "json", "pprof" }, default = "text",
      help = "largest stacks (text), stacks (json, one object per line) or a gzipped pprof heap profile (inuse_objects, inuse_space)" },
  },

  check = function(opts)
    if opts.interval and opts.format == "pprof" then return "-i works with text and json output; a profile covers the whole run" end
    if not opts.kernel and not opts.pid and not opts.command and not opts.command_argv and not opts.cgroup then
      return "user-space memleak needs -p PID or -c COMMAND, or --cgroup PATH (uprobes on every process's malloc would be too costly); --kernel traces the kernel"
    end
    if opts.kernel and opts.cgroup then
      return "--kernel counts the whole kernel (its frees run in any context); --cgroup applies to user-space memleak"
    end
  end,

  init = function(opts)
    local st = { last_resolve = BPF.monotonic(), pid = opts.pid, kernel = opts.kernel }
    if opts.kernel then
      st.b = probe.load("kmemleak", { SIZES = opts.sizes }, { exclude_pid = BPF.getpid() })
    else
      -- Following children or a cgroup means uprobes on every process's
      -- allocator, filtered by bl_wanted(): every process on the host then
      -- pays a trap per malloc, and (kernels whose uretprobes return through
      -- a syscall, 6.11+) a ptraced process meanwhile may die of SIGSEGV
      -- (seen on 6.18 under strace -f). So memleak follows a -c command's
      -- children only when asked, unlike the other tracers.
      local who = probe.who(opts)
      who.children = opts.children
      if who.children or who.cgroup then
        opts.out:note("memleak: uprobes on every process's allocator, filtered in the kernel (every malloc on this host pays for them)")
      elseif opts.command_argv and opts.command_argv[1] == "/bin/sh" then
        opts.out:note("memleak: the command runs through /bin/sh; only the shell is traced (--children follows what it starts, at a cost to every process)")
      end
      st.b = probe.load("memleak", { SIZES = opts.sizes }, who)
      st.stack_pids = st.b:get_table("stack_pids")
      local pid = (who.children or who.cgroup) and -1 or opts.pid
      for _, p in ipairs(USER_PROBES) do
        -- entry-only probes go where the kernel need not single-step
        -- (free: past its `test`, 0.5 us a hit instead of 9.8 on a VM);
        -- with a uretprobe the entry's trap is shared, so it stays there
        local ok, err = pcall(st.b.attach_uprobe, st.b, { name = "c", sym = p[1], fn_name = p[2], pid = pid,
                                                          emulate = not p[3] })
        if not ok then error(BPF.error("failed", "memleak: cannot attach to " .. p[1] .. ": " .. tostring(err))) end
        if p[3] then st.b:attach_uretprobe{ name = "c", sym = p[1], fn_name = p[3], pid = pid } end
      end
    end
    st.combined = st.b:get_table("combined")
    st.allocs = st.b:get_table("allocs")
    st.res = stacks.resolver(st.b, st.b:get_table("stacks"))
    st.totals = st.b:get_table("totals")
    if opts.sizes then st.size_hist = st.b:get_table("size_hist") end
    st.start = BPF.monotonic()
    st.start_ns_wall = BPF.realtime_ns()
    opts.out:note(string.format("Tracing %s allocations%s... Ctrl-C to end.",
      opts.kernel and "kernel" or opts.pid and ("pid " .. opts.pid .. "'s") or ("cgroup " .. opts.cgroup .. "'s"),
      opts.duration and string.format(" for %g s", opts.duration) or ""))
    return st
  end,

  poll = stacks.poll_resolving(RESOLVE_EVERY, resolve),

  status = function(st)
    return { events = st.totals:get(0) + st.totals:get(1) }
  end,

  report = function(st, opts, final)
    local rows = outstanding(st, opts)
    local out = opts.out
    local allocs, frees, bytes = st.totals:get(0), st.totals:get(1), st.totals:get(2)
    local secs = math.max(BPF.monotonic() - st.start, 1e-3)
    if opts.top > 0 and opts.format ~= "pprof" then for i = #rows, opts.top + 1, -1 do rows[i] = nil end end
    if opts.format == "pprof" then
      local list = {}
      for _, r in ipairs(rows) do list[#list + 1] = { user = r.stack, count = r.allocations, bytes = r.bytes } end
      out:write(require("bpflua.pprof").encode(list, { kind = "inuse", time_ns = st.start_ns_wall,
                                                       duration_ns = BPF.realtime_ns() - st.start_ns_wall }))
    elseif opts.format == "json" then
      for _, r in ipairs(rows) do
        out:record(r, { { "bytes" }, { "allocations" }, { "stack" } })
      end
    else
      out:text(string.format("%d allocations (%.0f/s, %d bytes), %d frees; outstanding, largest first:",
        allocs, allocs / secs, bytes, frees))
      for _, r in ipairs(rows) do
        out:text(string.format("%d bytes in %d allocations from", r.bytes, r.allocations))
        for _, f in ipairs(r.stack) do out:text("\t" .. BPF.printable(f)) end
      end
      if st.size_hist then
        local vals = {}
        for k, v in st.size_hist:items() do if v > 0 then vals[k] = v end end
        out:text("")
        for _, l in ipairs(hist.log2_lines(vals, "bytes")) do out:text(l) end
      end
    end
    out:flush()
    if not final then st.start = BPF.monotonic() end
  end,
}
