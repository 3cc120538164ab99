-- Histograms in BCC's text form, from tables whose keys are bucket indexes
-- (log2: bucket k as bpf_log2l fills it, see log2_bounds; linear: key = value).
local M = {}

local function stars(n, max, width)
  local k = max > 0 and math.floor(n * width / max) or 0
  local s = string.rep("*", k)
  if n > 0 and k == 0 then s = "" end
  return s .. string.rep(" ", width - #s)
end

local function values_of(tbl)
  local vals, maxk = {}, -1
  for k, v in tbl:items() do
    if type(v) == "table" then -- per-CPU: sum
      local s = 0
      for _, x in ipairs(v) do s = s + x end
      v = s
    end
    if type(k) == "table" then k = k.slot or k.bucket or k[1] end
    vals[k] = (vals[k] or 0) + v
    if v > 0 and k > maxk then maxk = k end
  end
  return vals, maxk
end

-- The values bucket k of bpf_log2l holds: 0 and 1 land in bucket 1 (BCC
-- prints it "0 -> 1"), bucket k >= 2 holds 2^(k-1) .. 2^k - 1. bpf_log2l
-- never fills bucket 0; a program that puts 0 there gets "0 -> 0".
function M.log2_bounds(k)
  if k <= 1 then return 0, k end
  return 1 << (k - 1), (1 << k) - 1
end

-- Lines of a log2 histogram from a {bucket -> count} table; used by
-- print_log2_hist and by formatters that want the text without printing it.
-- Bucket -1 holds negative values (one-liners), printed first as -inf -> -1.
function M.log2_lines(vals, label, maxk)
  label = label or "value"
  local out = {}
  if maxk == nil then
    maxk = -1
    for k, v in pairs(vals) do if v > 0 and k > maxk then maxk = k end end
  end
  local neg = vals[-1] or 0
  if maxk < 0 and neg == 0 then return out end
  local max = neg
  for k = 0, maxk do max = math.max(max, vals[k] or 0) end
  local wide = maxk > 32
  local fmt = wide and "%20d -> %-20d : %-8d |%s|" or "%10d -> %-10d : %-8d |%s|"
  local head = wide and "%26s%-19s : count     distribution" or "%16s%-13s : count     distribution"
  out[#out + 1] = string.format(head, "", label)
  if neg > 0 then
    out[#out + 1] = string.format(wide and "%20s -> %-20d : %-8d |%s|" or "%10s -> %-10d : %-8d |%s|",
                                  "-inf", -1, neg, stars(neg, max, 40))
  end
  for k = (vals[0] or 0) > 0 and 0 or 1, maxk do
    local lo, hi = M.log2_bounds(k)
    local n = vals[k] or 0
    out[#out + 1] = string.format(fmt, lo, hi, n, stars(n, max, 40))
  end
  return out
end

function M.print_log2_hist(tbl, label)
  local vals, maxk = values_of(tbl)
  for _, l in ipairs(M.log2_lines(vals, label, maxk)) do print(l) end
end

-- Lines of a linear histogram over buckets mink..maxk (max: the largest count).
function M.linear_lines(vals, label, mink, maxk, max)
  local out = { string.format("%13s : count     distribution", label or "value") }
  for k = mink, maxk do
    local n = vals[k] or 0
    out[#out + 1] = string.format("%13d : %-8d |%s|", k, n, stars(n, max, 40))
  end
  return out
end

function M.print_linear_hist(tbl, label)
  local vals, maxk = values_of(tbl)
  if maxk < 0 then return end
  local max, mink = 0, maxk
  for k, v in pairs(vals) do
    if v > 0 then max = math.max(max, v); mink = math.min(mink, k) end
  end
  for _, l in ipairs(M.linear_lines(vals, label, mink, maxk, max)) do print(l) end
end

return M
