-- Profiles in pprof's format: stacks ({ comm, pid, count, user = {innermost
-- first}, kernel = {...} }) as a gzipped profile.proto that `go tool
-- pprof`, Parca and Pyroscope read. This file keeps the tables (strings,
-- one function and location per frame name); lua/pprof.c packs and
-- compresses.
local M = {}

-- The kinds of profile: their sample types (pprof's names, as Go's own
-- profiles use them), and each stack's values in that order.
M.KINDS = {
  -- the profile tracer: samples, and the CPU time they stand for
  cpu = { types = { { "samples", "count" }, { "cpu", "nanoseconds" } },
          values = function(s, period) return { s.count, s.count * period } end },
  -- offcputime: blocks, and the time blocked
  offcpu = { types = { { "blocks", "count" }, { "offcpu", "nanoseconds" } },
             values = function(s) return { s.count, s.ns } end },
  -- memleak: what is still allocated, as a Go heap profile's inuse_*
  inuse = { types = { { "inuse_objects", "count" }, { "inuse_space", "bytes" } },
            values = function(s) return { s.count, s.bytes } end },
}

-- stacks: as above, with the fields the kind's values read; opts: kind
-- (default "cpu"), frequency (Hz, cpu only), time_ns (the start, wall
-- clock), duration_ns
function M.encode(stacks, opts)
  local kind = M.KINDS[opts.kind or "cpu"]
  local strings, index = { "" }, { [""] = 0 }
  local function str(s)
    local i = index[s]
    if not i then
      strings[#strings + 1] = s
      i = #strings - 1
      index[s] = i
    end
    return i
  end
  local functions, fn_of = {}, {}
  local function loc(name)
    local id = fn_of[name]
    if not id then
      functions[#functions + 1] = str(name)
      id = #functions
      fn_of[name] = id
    end
    return id
  end
  local period = opts.frequency and math.floor(1e9 / opts.frequency) or 0
  local sample_type = {}
  for i, t in ipairs(kind.types) do sample_type[i] = { str(t[1]), str(t[2]) } end
  local comm_key = str("comm")
  local samples = {}
  for _, s in ipairs(stacks) do
    local locs = {}
    for _, f in ipairs(s.kernel or {}) do locs[#locs + 1] = loc(f) end
    for _, f in ipairs(s.user or {}) do locs[#locs + 1] = loc(f) end
    if #locs == 0 then locs[1] = loc("[" .. tostring(s.comm) .. "]") end
    samples[#samples + 1] = { locs = locs, values = kind.values(s, period),
                              labels = s.comm and { comm_key, str(tostring(s.comm)) } or {} }
  end
  return BPF.pprof_encode{ strings = strings, sample_type = sample_type, period_type = sample_type[2],
                           period = period, time_nanos = opts.time_ns or 0, duration_nanos = opts.duration_ns or 0,
                           functions = functions, samples = samples }
end

return M
