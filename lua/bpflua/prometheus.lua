-- The Prometheus text exposition format, version 0.0.4, from the metrics
-- registry's families: one # HELP and # TYPE per family, histograms as
-- cumulative `le` buckets ending in +Inf (= _count), then _sum and _count.
local M = {}

M.CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

local function escape_help(s)
  return (s:gsub("\\", "\\\\"):gsub("\n", "\\n"))
end

local function escape_value(s)
  return (s:gsub("\\", "\\\\"):gsub("\n", "\\n"):gsub('"', '\\"'))
end

local function number(v)
  if math.type(v) == "integer" then return string.format("%d", v) end
  if v ~= v then return "NaN" end
  if v == math.huge then return "+Inf" end
  if v == -math.huge then return "-Inf" end
  if v == math.floor(v) and math.abs(v) < 2 ^ 53 then return string.format("%d", math.floor(v)) end
  local short = string.format("%.15g", v)
  if tonumber(short) == v then return short end
  return string.format("%.17g", v)
end

-- bounds are powers of two times a scale: 15 digits print them cleanly
local function bound(b)
  return string.format("%.15g", b)
end

-- {a="x",b="y"} with extra (name, value) last, or "" for no labels
local function labels(list, extra_name, extra_value)
  local parts = {}
  for i, l in ipairs(list) do parts[i] = string.format('%s="%s"', l[1], escape_value(l[2])) end
  if extra_name then parts[#parts + 1] = string.format('%s="%s"', extra_name, extra_value) end
  if #parts == 0 then return "" end
  return "{" .. table.concat(parts, ",") .. "}"
end

function M.render(families)
  local out = {}
  local function put(s) out[#out + 1] = s end
  for _, f in ipairs(families) do
    if #f.series > 0 then
      put(string.format("# HELP %s %s\n", f.name, escape_help(f.help or f.name)))
      put(string.format("# TYPE %s %s\n", f.name, f.type))
      for _, s in ipairs(f.series) do
        if f.type == "histogram" then
          local cum = 0
          for i, b in ipairs(s.bounds) do
            cum = cum + s.counts[i]
            put(string.format("%s_bucket%s %s\n", f.name, labels(s.labels, "le", bound(b)), number(cum)))
          end
          put(string.format("%s_bucket%s %s\n", f.name, labels(s.labels, "le", "+Inf"), number(s.count)))
          put(string.format("%s_sum%s %s\n", f.name, labels(s.labels), number(s.sum)))
          put(string.format("%s_count%s %s\n", f.name, labels(s.labels), number(s.count)))
        else
          put(string.format("%s%s %s\n", f.name, labels(s.labels), number(s.value)))
        end
      end
    end
  end
  return table.concat(out)
end

return M
