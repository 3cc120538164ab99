-- bpflua doctor: what this host can trace and what it cannot, each line
-- with the reason and the remedy. Exit status is non-zero only when nothing
-- at all can be traced.
local M = {}

local function checks(f)
  local h = f.headers
  local rejected = f.headers_rejected ~= "" and f.headers_rejected or nil
  local privileged = f.is_root or (f.cap_bpf and f.cap_perfmon)
  local list = {
    { name = "privileges", ok = privileged,
      detail = f.is_root and "running as root" or (privileged and "CAP_BPF and CAP_PERFMON" or "not root, no CAP_BPF/CAP_PERFMON"),
      remedy = "run as root (sudo), or grant CAP_BPF and CAP_PERFMON" },
    { name = "bpf", ok = f.bpf_syscall, detail = f.bpf_syscall and "bpf() works" or "bpf() failed",
      remedy = "a kernel with CONFIG_BPF_SYSCALL=y, and privileges" },
    { name = "btf", ok = f.btf, optional = true,
      detail = f.btf and "/sys/kernel/btf/vmlinux present" or "/sys/kernel/btf/vmlinux absent",
      remedy = "not needed by bpflua; CO-RE tools (bpftrace, libbpf-tools) need CONFIG_DEBUG_INFO_BTF=y" },
    { name = "headers", ok = h ~= nil,
      detail = h and (h.how == "exact" and ("kernel headers " .. h.version .. " from " .. h.source)
               or string.format("kernel headers %s from %s (%s; the running kernel is %s)", h.version, h.source,
                  h.how == "nearest" and "a mismatched tree" or h.how, f.release)
                  .. (rejected and ("; its own tree was rejected: " .. rejected) or ""))
               or tostring(f.headers_error),
      warn = h and h.how == "nearest",
      -- a tree that is there but broken needs repair, not the package it came from
      remedy = rejected and "repair the rejected tree (reinstall its package), or set BCC_KERNEL_SOURCE to a complete tree"
               or ("install linux-headers-" .. f.release .. " if your distribution has it, or build with CONFIG_IKHEADERS=m") },
    { name = "tracefs", ok = f.tracefs ~= "", detail = f.tracefs ~= "" and ("mounted at " .. f.tracefs) or "not mounted",
      remedy = "mount -t tracefs tracefs /sys/kernel/tracing" },
    { name = "tracepoints", ok = f.bpf_syscall and f.tracefs ~= "",
      detail = "tracepoint programs", remedy = "needs bpf() and tracefs" },
    { name = "raw_tracepoints", ok = f.raw_tracepoints, optional = true,
      detail = f.raw_tracepoints and "raw tracepoint programs load" or "not supported", remedy = "Linux 4.17 or later" },
    { name = "perf_events", ok = f.perf_sampling,
      detail = string.format("cpu-clock sampling%s (perf_event_paranoid=%d)", f.perf_sampling and "" or " failed", f.perf_event_paranoid),
      remedy = "sysctl kernel.perf_event_paranoid=2 or lower, and privileges" },
    { name = "uprobes", ok = f.uprobes, detail = f.uprobes and "uprobe PMU or uprobe_events" or "no uprobes",
      remedy = "a kernel with CONFIG_UPROBES=y" },
    { name = "kprobes", ok = f.kprobes, optional = true,
      detail = f.kprobes and "kprobe PMU or kprobe_events" or
        ("no kprobes (CONFIG_KPROBES=" .. (f.config_kprobes == "n" and "n, not set" or f.config_kprobes) .. ")"),
      remedy = "tracers use tracepoints instead; kprobe-only probes need a kernel with CONFIG_KPROBES=y" },
    { name = "ring_buffer", ok = f.ringbuf, optional = true,
      detail = f.ringbuf and "BPF ring buffer maps" or "no ring buffer (Linux < 5.8): perf buffers are used",
      remedy = "Linux 5.8 or later" },
  }
  return list
end

-- per network tracer, the attach points it would use on this kernel (the
-- others stand on tracepoints, perf events and uprobes every supported
-- kernel has): { name, ok, detail }
local function tracers(f)
  local net = require("bpflua.net")
  local list = {}
  for _, name in ipairs({ "tcplife", "tcpconnect", "udp", "http" }) do
    local ok, plan = pcall(net.plan, name)
    local detail
    if ok then
      detail = net.describe(plan)
    else
      detail = tostring(plan.message or plan):gsub("^[^\n]*\n%s*", ""):gsub("\n%s*", "; ")
    end
    list[#list + 1] = { name = name, ok = ok, detail = detail }
  end
  return list
end

function M.main(argv)
  local json = argv[1] == "--json"
  if argv[1] and not json then
    error(BPF.error("usage", "usage: bpflua doctor [--json]"))
  end
  local f = BPF.features()
  local list = checks(f)
  local tr = f.tracefs ~= "" and tracers(f) or {}
  if json then
    local out = { kernel = f.release, checks = {}, tracers = tr }
    for _, c in ipairs(list) do
      out.checks[#out.checks + 1] = { name = c.name, ok = c.ok and true or false, detail = c.detail,
                                      remedy = (not c.ok or c.warn) and c.remedy or nil }
    end
    print(BPF.json(out, { "kernel", "checks", "tracers", "name", "ok", "detail", "remedy" }))
  else
    print("bpflua doctor: Linux " .. f.release)
    for _, c in ipairs(list) do
      local mark = c.ok and (c.warn and "warn" or " ok ") or (c.optional and " -- " or "FAIL")
      print(string.format("[%s] %-16s %s", mark, c.name, c.detail))
      if not c.ok or c.warn then print(string.format("       %-16s %s", "", "-> " .. c.remedy)) end
    end
    if #tr > 0 then print("network tracers attach to:") end
    for _, t in ipairs(tr) do
      print(string.format("[%s] %-16s %s", t.ok and " ok " or "FAIL", t.name, t.detail))
    end
  end
  local can = f.bpf_syscall and (f.is_root or (f.cap_bpf and f.cap_perfmon)) and f.headers
              and (f.tracefs ~= "" or f.perf_sampling)
  return can and 0 or 1
end

return M
