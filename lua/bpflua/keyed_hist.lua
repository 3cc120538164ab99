-- Log2 histograms kept in the kernel under { id, slot } keys (one
-- histogram per id: a process, a thread, a disk, ...), read back as one
-- row per id with its buckets, and printed in BCC's form or as JSON.
local hist = require("bpflua.hist")

local M = {}

local function sum(v)
  if type(v) ~= "table" then return v end
  local s = 0
  for _, x in ipairs(v) do s = s + x end
  return s
end

-- { [id] = { id = id, count = n, buckets = { [slot] = n } } }, from a table
-- whose keys have fields `id` and `slot` (extra key fields: `group` names
-- them, e.g. group = function(k) return k.dev .. "/" .. k.flags end)
function M.read(tbl, group)
  local rows = {}
  for k, v in tbl:items() do
    local n = sum(v)
    if n > 0 then
      local id = group and group(k) or k.id
      local r = rows[id]
      if not r then
        r = { id = id, key = k, count = 0, buckets = {} }
        rows[id] = r
      end
      r.count = r.count + n
      r.buckets[k.slot] = (r.buckets[k.slot] or 0) + n
    end
  end
  return rows
end

-- rows as a list, largest count first (ties by id)
function M.sorted(rows)
  local list = {}
  for _, r in pairs(rows) do list[#list + 1] = r end
  table.sort(list, function(a, b)
    if a.count ~= b.count then return a.count > b.count end
    return tostring(a.id) < tostring(b.id)
  end)
  return list
end

-- the buckets as JSON wants them: [{from_UNIT, to_UNIT, count}], non-empty ones
function M.json_buckets(buckets, unit)
  local out, slots = {}, {}
  for k in pairs(buckets) do slots[#slots + 1] = k end
  table.sort(slots)
  for _, k in ipairs(slots) do
    local lo, hi = hist.log2_bounds(k)
    out[#out + 1] = { ["from_" .. unit] = lo, ["to_" .. unit] = hi, count = buckets[k] }
  end
  return out
end

-- Text: each row's title line (title(row), nil for none), then its
-- histogram. JSON: one object per row, fields(row) followed by count and
-- hist.
function M.report(out, format, list, unit, label, title, fields)
  for i, r in ipairs(list) do
    if format == "json" then
      local row, order = fields(r)
      row.count, row.hist = r.count, M.json_buckets(r.buckets, unit)
      order[#order + 1] = { "count" }
      order[#order + 1] = { "hist" }
      out:record(row, order)
    else
      if i > 1 then out:text("") end
      local t = title and title(r)
      if t then out:text(t) end
      for _, l in ipairs(hist.log2_lines(r.buckets, label)) do out:text(l) end
    end
  end
  out:flush()
end

return M
