-- biolatency: block I/O latency, issue to completion, as log2 histograms:
-- for all disks, per disk (-D) and per I/O kind (-F: read, write, sync,
-- flush, ... as the kernel's rwbs letters say).
local probe = require("bpflua.probe")
local keyed = require("bpflua.keyed_hist")

-- the kernel's dev_t: 12 bits of major, 20 of minor
local function disk_name(dev)
  local major, minor = dev >> 20, dev & 0xfffff
  local f = io.open(string.format("/sys/dev/block/%d:%d/uevent", major, minor), "r")
  local name = f and (f:read("a") or ""):match("DEVNAME=([^\n]+)")
  if f then f:close() end
  return name or string.format("%d:%d", major, minor)
end

return {
  name = "biolatency",
  description = "Block I/O latency (issue to completion) as log2 histograms, per disk (-D) and I/O kind (-F)",
  args = {
    { "D", "disks", type = "flag", help = "a histogram per disk" },
    { "F", "flags", type = "flag", help = "a histogram per I/O kind (rwbs: R read, W write, S sync, F flush, M metadata, ...)" },
    { "m", "milliseconds", type = "flag", help = "in milliseconds (default: microseconds)" },
  },

  init = function(opts)
    for _, tp in ipairs({ "block:block_rq_issue", "block:block_rq_complete" }) do
      probe.choose("block I/O latency", { { "tracepoint", tp } })
    end
    local b = probe.load("biolatency", { BY_DISK = opts.disks, BY_FLAGS = opts.flags, MSECS = opts.milliseconds },
                         probe.who(opts))
    opts.out:note(string.format("Tracing block I/O latency%s... Ctrl-C to end.", opts.pid and (" issued by pid " .. opts.pid) or ""))
    return { b = b, hist = b:get_table("hist"), names = {} }
  end,

  status = function(st)
    local n = 0
    for _, r in pairs(keyed.read(st.hist)) do n = n + r.count end
    return { events = n }
  end,

  report = function(st, opts)
    local function name(dev)
      st.names[dev] = st.names[dev] or disk_name(dev)
      return st.names[dev]
    end
    local rows = keyed.read(st.hist, function(k) return k.dev .. "\0" .. k.rwbs end)
    local list = keyed.sorted(rows)
    keyed.report(opts.out, opts.format, list, opts.milliseconds and "ms" or "us",
      opts.milliseconds and "msecs" or "usecs",
      function(r)
        local parts = {}
        if opts.disks then parts[#parts + 1] = "disk = " .. BPF.printable(name(r.key.dev)) end
        if opts.flags then parts[#parts + 1] = "flags = " .. BPF.printable(r.key.rwbs) end
        return #parts > 0 and table.concat(parts, ", ") or nil
      end,
      function(r)
        local row, order = {}, {}
        if opts.disks then row.disk, order[#order + 1] = name(r.key.dev), { "disk" } end
        if opts.flags then row.flags, order[#order + 1] = r.key.rwbs, { "flags" } end
        return row, order
      end)
    st.hist:clear()
  end,
}
