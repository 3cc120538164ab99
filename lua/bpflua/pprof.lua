-- CPU profiles in pprof's format: the stacks the profile tracer counts
-- ({ comm, pid, count, user = {innermost first}, kernel = {...} }) as a
-- gzipped profile.proto that `go tool pprof`, Parca and Pyroscope read.
-- This file keeps the tables (strings, one function and location per frame
-- name); lua/pprof.c packs and compresses.
local M = {}

-- stacks: as above; opts: frequency (Hz), time_ns (the start, wall clock),
-- duration_ns
function M.encode(stacks, opts)
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
  local period = math.floor(1e9 / opts.frequency)
  local sample_type = { { str("samples"), str("count") }, { str("cpu"), str("nanoseconds") } }
  local comm_key = str("comm")
  local samples = {}
  for _, s in ipairs(stacks) do
    local locs = {}
    for _, f in ipairs(s.kernel or {}) do locs[#locs + 1] = loc(f) end
    for _, f in ipairs(s.user or {}) do locs[#locs + 1] = loc(f) end
    if #locs == 0 then locs[1] = loc("[" .. tostring(s.comm) .. "]") end
    samples[#samples + 1] = { locs = locs, values = { s.count, s.count * period },
                              labels = { comm_key, str(tostring(s.comm)) } }
  end
  return BPF.pprof_encode{ strings = strings, sample_type = sample_type, period_type = sample_type[2],
                           period = period, time_nanos = opts.time_ns or 0, duration_nanos = opts.duration_ns or 0,
                           functions = functions, samples = samples }
end

return M
