-- The Lua half of bpflua, loaded before any script runs: adds the methods
-- that are about looks (histograms) to BPF's tables, and makes os.exit
-- close the state so every probe is detached on the way out.
local hist = require("bpflua.hist")

local T = BPF.table_methods
T.print_log2_hist = hist.print_log2_hist
T.print_linear_hist = hist.print_linear_hist

-- BCC's per-CPU tables give a list per key; sum() folds it.
function T:sum(key)
  local v = self:get(key)
  if type(v) ~= "table" then return v or 0 end
  local s = 0
  for _, x in ipairs(v) do s = s + x end
  return s
end

local exit = os.exit
os.exit = function(code, _) exit(code, true) end

return {}
