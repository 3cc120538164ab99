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

-- BCC's _stars: ceil(width * n / max) stars, "+" at the end past max
local function bcc_stars(n, max, width)
  local k = max > 0 and math.min(width, math.ceil(width * n / max)) or 0
  return string.rep("*", k)
end

-- A log2 histogram exactly as BCC's print_log2_hist prints it: from slot 1
-- (0 and 1), up to the last non-empty slot; wide columns past slot 32.
function M.bcc_log2_lines(vals, label, strip_leading_zero)
  local out, maxk, max = {}, -1, 0
  for k, v in pairs(vals) do
    if v > 0 and k > maxk then maxk = k end
    if v > max then max = v end
  end
  local head, body, width
  if maxk <= 32 then
    head, body, width = "     %-19s : count     distribution", "%10d -> %-10d : %-8d |%-40s|", 40
  else
    head, body, width = "               %-29s : count     distribution", "%20d -> %-20d : %-8d |%-20s|", 20
  end
  if maxk > 0 then out[#out + 1] = string.format(head, label or "value") end
  for k = 1, maxk do
    local lo, hi = M.log2_bounds(k)
    local n = vals[k] or 0
    if not strip_leading_zero or n > 0 then
      strip_leading_zero = false
      out[#out + 1] = string.format(body, lo, hi, n, bcc_stars(n, max, width))
    end
  end
  return out
end

function M.bcc_linear_lines(vals, label, strip_leading_zero)
  local out, maxk, max = {}, -1, 0
  for k, v in pairs(vals) do
    if v > 0 and k > maxk then maxk = k end
    if v > max then max = v end
  end
  if maxk >= 0 then out[#out + 1] = string.format("     %-13s : count     distribution", label or "value") end
  for k = 0, maxk do
    local n = vals[k] or 0
    if not strip_leading_zero or n > 0 then
      strip_leading_zero = false
      out[#out + 1] = string.format("        %-10d : %-8d |%-40s|", k, n, bcc_stars(n, max, 40))
    end
  end
  return out
end

local function count_of(v)
  if type(v) ~= "table" then return v end
  local s = 0 -- per-CPU: sum
  for _, x in ipairs(v) do s = s + x end
  return s
end

-- A key of two fields (BCC's secondary key): one histogram per value of the
-- first field, the second field the slot. Returns nil for a plain key.
local function sections_of(tbl, bucket_fn, bucket_sort_fn)
  local names = tbl.key_fields and tbl:key_fields()
  if not names or #names < 2 then return nil end
  local f1, f2 = names[1], names[2]
  local hists, order = {}, {}
  for k, v in tbl:items() do
    local bucket = k[f1]
    if bucket_fn then bucket = bucket_fn(bucket) end
    local h = hists[bucket]
    if not h then
      h = {}
      hists[bucket] = h
      order[#order + 1] = bucket
    end
    h[k[f2]] = (h[k[f2]] or 0) + count_of(v)
  end
  if bucket_sort_fn then
    order = bucket_sort_fn(order)
  else
    table.sort(order, function(a, b)
      if type(a) == type(b) and (type(a) == "number" or type(a) == "string") then return a < b end
      return tostring(a) < tostring(b)
    end)
  end
  return hists, order
end

-- BCC's print_log2_hist(val_type, section_header, section_print_fn,
-- bucket_fn, strip_leading_zero, bucket_sort_fn), positional or as a table.
local function print_hist(lines_of, tbl, label, section_header, section_print_fn, bucket_fn,
                          strip_leading_zero, bucket_sort_fn)
  if type(label) == "table" then
    local o = label
    label, section_header, section_print_fn = o.val_type, o.section_header, o.section_print_fn
    bucket_fn, strip_leading_zero, bucket_sort_fn = o.bucket_fn, o.strip_leading_zero, o.bucket_sort_fn
  end
  local hists, order = sections_of(tbl, bucket_fn, bucket_sort_fn)
  if not hists then
    local vals = values_of(tbl)
    for _, l in ipairs(lines_of(vals, label, strip_leading_zero)) do print(l) end
    return
  end
  for _, bucket in ipairs(order) do
    print(string.format("\n%s = %s", section_header or "Bucket ptr",
      section_print_fn and section_print_fn(bucket) or tostring(bucket)))
    for _, l in ipairs(lines_of(hists[bucket], label, strip_leading_zero)) do print(l) end
  end
end

function M.print_log2_hist(tbl, ...)
  print_hist(M.bcc_log2_lines, tbl, ...)
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

function M.print_linear_hist(tbl, ...)
  print_hist(M.bcc_linear_lines, tbl, ...)
end

return M
