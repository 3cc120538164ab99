-- Profiles in speedscope's file format (https://www.speedscope.app/
-- file-format-schema.json): one "sampled" profile whose samples are frame
-- indices, root first, each with its weight. speedscope.app and its CLI
-- open it; so does any tool reading that schema.
local M = {}

-- stacks: { { frames = {root first}, count = weight }, ... } (as
-- flamegraph.folded takes them); opts: name, unit ("none", "nanoseconds",
-- "microseconds", "milliseconds", "seconds" or "bytes"). Returns the JSON.
function M.encode(stacks, opts)
  local frames, index = {}, {}
  local samples, weights, total = {}, {}, 0
  for _, s in ipairs(stacks) do
    local ids = {}
    for i, f in ipairs(s.frames) do
      local id = index[f]
      if not id then
        frames[#frames + 1] = { name = f }
        id = #frames - 1
        index[f] = id
      end
      ids[i] = id
    end
    samples[#samples + 1] = ids
    weights[#weights + 1] = s.count
    total = total + s.count
  end
  return BPF.json({
    ["$schema"] = "https://www.speedscope.app/file-format-schema.json",
    exporter = "bpflua", name = opts.name, activeProfileIndex = 0,
    shared = { frames = frames },
    profiles = { { type = "sampled", name = opts.name, unit = opts.unit or "none", startValue = 0,
                   endValue = total, samples = samples, weights = weights } },
  }) .. "\n"
end

return M
