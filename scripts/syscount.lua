-- syscount: the syscalls a host (or one process) makes, by count.
local probe = require("bpflua.probe")

return {
  name = "syscount",
  description = "Top syscalls by count, for the whole system or one process",
  args = {
    { "T", "top", type = "int", default = 10, help = "show the top N syscalls (0: all)" },
  },

  init = function(opts)
    local b = probe.load("syscount", { FILTER_PID = opts.pid, EXCLUDE_PID = BPF.getpid() })
    opts.out:note(string.format("Tracing syscalls%s%s... Ctrl-C to end.",
      opts.pid and (" of pid " .. opts.pid) or "",
      opts.duration and string.format(" for %g s", opts.duration) or ""))
    return { b = b, counts = b:get_table("counts") }
  end,

  report = function(st, opts)
    local rows = {}
    for nr, percpu in st.counts:items() do
      local n = 0
      for _, c in ipairs(percpu) do n = n + c end
      if n > 0 then rows[#rows + 1] = { syscall = BPF.syscall_name(nr), count = n } end
    end
    table.sort(rows, function(a, b) return a.count > b.count or (a.count == b.count and a.syscall < b.syscall) end)
    if opts.top > 0 then
      for i = #rows, opts.top + 1, -1 do rows[i] = nil end
    end
    opts.out:table(rows, { { "syscall", "SYSCALL", "%-22s" }, { "count", "COUNT", "%10d" } })
    st.counts:clear()
  end,
}
