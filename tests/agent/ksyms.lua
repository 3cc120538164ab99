-- The agent's kernel symbols (sources.kallsyms: one pass over /proc/kallsyms
-- for the addresses a profile needs) name every address as libbcc's table
-- does (BPF.ksym): symbol starts, addresses inside functions and the last
-- byte before the next symbol, in the kernel and in modules, asked in any order.
local kallsyms = require("bpflua.agent.sources").kallsyms
local starts = {}
for line in io.lines("/proc/kallsyms") do
  local hex, kind = line:match("^(%x+) ([tT])")
  local a = hex and math.tointeger(tonumber(hex, 16))
  if a and a ~= 0 then starts[#starts + 1] = a end
end
assert(#starts > 1000, "no kernel text symbols to read (is kptr_restrict set?)")
table.sort(starts, math.ult)
math.randomseed(14)
local want, list = {}, {}
local function add(ip)
  if not want[ip] then want[ip], list[#list + 1] = true, ip end
end
for _ = 1, 300 do
  local i = math.random(1, #starts - 1)
  local a, b = starts[i], starts[i + 1]
  add(a)
  if math.ult(a + 1, b) then add(a + math.random(1, math.min(b - a - 1, 4096))) end
  if math.ult(a, b - 1) then add(b - 1) end
end
local got = kallsyms(want)
local bad = 0
for _, ip in ipairs(list) do
  local bcc = BPF.ksym(ip)
  -- the same address can carry aliases: either name is the function
  if got[ip] ~= bcc then
    -- aliases: names sharing the start of the function that holds ip are one
    local lo, hi = 1, #starts
    while lo < hi do
      local mid = (lo + hi + 1) // 2
      if math.ult(ip, starts[mid]) then hi = mid - 1 else lo = mid end
    end
    local names = {}
    for line in io.lines("/proc/kallsyms") do
      local hex, name = line:match("^(%x+) [tTwW] (%S+)")
      if hex and math.tointeger(tonumber(hex, 16)) == starts[lo] then names[name] = true end
    end
    if not (names[got[ip]] and names[bcc]) then
      bad = bad + 1
      if bad <= 5 then print(string.format("FAIL: %x: %s, libbcc says %s", ip, tostring(got[ip]), bcc)) end
    end
  end
end
if bad > 0 then
  print(string.format("FAIL: %d of %d addresses named differently", bad, #list))
  os.exit(1)
end
print(string.format("ksyms: %d addresses named as libbcc names them", #list))
