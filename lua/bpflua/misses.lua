-- Events the kernel did not hand to this process's BPF programs: a
-- tracepoint program is skipped when another BPF program (any tracer's) is
-- already running on that CPU, e.g. when a timer's wakeup interrupts it.
-- The kernel counts each skip per program (recursion_misses in the
-- program's fdinfo, since Linux 6.7); nil where it does not say.
local M = {}

function M.count()
  local total
  for _, fd in ipairs(BPF.listdir("/proc/self/fdinfo") or {}) do
    local f = io.open("/proc/self/fdinfo/" .. fd, "r")
    if f then
      local s = f:read("a") or ""
      f:close()
      local n = s:find("\nprog_type:") and s:match("\nrecursion_misses:%s*(%d+)")
      if n then total = (total or 0) + tonumber(n) end
    end
  end
  return total
end

-- A tracer's finish hook: a note when some were missed, and the count in
-- a last JSON object {"summary": NAME, "missed_events": N}.
function M.finish(name)
  return function(_, opts)
    local n = M.count()
    if not n or n == 0 then return end
    opts.out:note(string.format("%s: %d events missed (another BPF program was running on the CPU)", name, n))
    if opts.format == "json" then
      opts.out:write(BPF.json({ summary = name, missed_events = n }, { "summary", "missed_events" }) .. "\n")
    end
  end
end

return M
