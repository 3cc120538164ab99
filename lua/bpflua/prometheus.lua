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
-- The few bounds there are (log2 slots in a handful of units), as text once
local bound_text, nbounds = {}, 0
local function bound(b)
  local t = bound_text[b]
  if not t then
    if nbounds >= 4096 then bound_text, nbounds = {}, 0 end
    t = string.format("%.15g", b)
    bound_text[b], nbounds = t, nbounds + 1
  end
  return t
end

-- a series' labels as 'a="x",b="y"' (no braces): made once per series and
-- scrape, not once per line (a histogram has a line per bucket)
local function label_body(list)
  local parts = {}
  for i, l in ipairs(list) do parts[i] = l[1] .. '="' .. escape_value(l[2]) .. '"' end
  return table.concat(parts, ",")
end

function M.render(families)
  local out, n = {}, 0
  local function put(...)
    for i = 1, select("#", ...) do
      n = n + 1
      out[n] = select(i, ...)
    end
  end
  for _, f in ipairs(families) do
    if #f.series > 0 then
      local name = f.name
      put("# HELP ", name, " ", escape_help(f.help or name), "\n")
      put("# TYPE ", name, " ", f.type, "\n")
      for _, s in ipairs(f.series) do
        local body = label_body(s.labels)
        local plain = body == "" and " " or "{" .. body .. "} "
        if f.type == "histogram" then
          local bucket = name .. "_bucket{" .. (body == "" and "" or body .. ",") .. 'le="'
          local cum = 0
          for i, b in ipairs(s.bounds) do
            cum = cum + s.counts[i]
            put(bucket, bound(b), '"} ', number(cum), "\n")
          end
          put(bucket, '+Inf"} ', number(s.count), "\n")
          put(name, "_sum", plain, number(s.sum), "\n")
          put(name, "_count", plain, number(s.count), "\n")
        else
          put(name, plain, number(s.value), "\n")
        end
      end
    end
  end
  return table.concat(out)
end

return M
