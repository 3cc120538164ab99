-- Values of per-CPU maps, which BCC's API gives as one list per key (a
-- plain map gives the value itself): folded into one.
local M = {}

-- a number, or a list of numbers (one per CPU)
function M.sum(v)
  if type(v) ~= "table" then return v or 0 end
  local s = 0
  for _, x in ipairs(v) do s = s + x end
  return s
end

-- { count, ns }, or a list of them (one per CPU): count, ns
function M.sum_lat(v)
  if v.count then return v.count, v.ns end
  local c, ns = 0, 0
  for _, x in ipairs(v) do c = c + x.count; ns = ns + x.ns end
  return c, ns
end

return M
