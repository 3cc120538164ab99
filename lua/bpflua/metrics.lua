-- The agent's metrics registry: families of counters, gauges and
-- histograms, each a set of series by label values, read by the exporters
-- (Prometheus text, OTLP) through reg:collect(). Names are Prometheus names
-- already (`_total` on counters, base units `_seconds`, `_bytes`).
--
-- Cardinality is capped per family (max_series): a label set that would
-- make one series too many is refused, and bpflua_series_dropped_total
-- {family} counts each label set refused. Sources feed their largest series
-- first, so what is kept is the top N at the time each first appeared.
local M = {}

local Registry = {}
Registry.__index = Registry

local Family = {}
Family.__index = Family

-- at most this many refused label sets remembered per family, so the
-- dropped count itself cannot grow the agent's memory without bound
local MAX_REMEMBERED_DROPS = 100000

local NAME = "^[a-zA-Z_:][a-zA-Z0-9_:]*$"
local LABEL = "^[a-zA-Z_][a-zA-Z0-9_]*$"

function M.now_ns()
  return BPF.realtime_ns()
end

function M.new(opts)
  opts = opts or {}
  local reg = setmetatable({ families = {}, order = {}, max_series = opts.max_series or 1000,
                             start_time_ns = opts.start_time_ns or M.now_ns() }, Registry)
  reg.dropped = reg:counter{ name = "bpflua_series_dropped_total", labels = { "family" },
                             help = "Label sets refused because their family reached its series cap" }
  return reg
end

local function declare(reg, kind, d)
  if type(d) ~= "table" or type(d.name) ~= "string" or not d.name:match(NAME) then
    error("metric name must match " .. NAME .. ", not " .. tostring(type(d) == "table" and d.name or d), 3)
  end
  local labels = d.labels or {}
  for _, l in ipairs(labels) do
    if type(l) ~= "string" or not l:match(LABEL) or l:sub(1, 2) == "__" then
      error(string.format("metric %s: label name must match %s, not %s", d.name, LABEL, tostring(l)), 3)
    end
    if kind == "histogram" and l == "le" then error("metric " .. d.name .. ": a histogram cannot have a label le", 3) end
  end
  if kind == "counter" and not d.name:match("_total$") then
    error("counter " .. d.name .. ": a counter's name ends in _total", 3)
  end
  local f = reg.families[d.name]
  if f then
    if f.type ~= kind or table.concat(f.labels, ",") ~= table.concat(labels, ",") then
      error(string.format("metric %s declared twice, differently", d.name), 3)
    end
    return f -- a reloaded tracer finds its family and its counts again
  end
  f = setmetatable({ reg = reg, name = d.name, help = d.help or d.name, type = kind, labels = labels,
                     series = {}, nseries = 0, keys = {}, drops = {}, ndrops = 0, seen = {},
                     max_series = d.max_series or reg.max_series,
                     unit_scale = d.unit_scale or 1, overflow_slot = d.overflow_slot, top = 0 }, Family)
  reg.families[d.name] = f
  reg.order[#reg.order + 1] = d.name
  return f
end

function Registry:counter(d) return declare(self, "counter", d) end
function Registry:gauge(d) return declare(self, "gauge", d) end
function Registry:histogram(d) return declare(self, "histogram", d) end

-- values -> s in the fast path's tree; values of other types than the
-- series' own (200 and "200") are other paths to the same series, so the
-- tree holds a few paths per series at most
local function remember(f, values, s)
  local node, n = f.seen, #f.labels
  for i = 1, n do -- strings and integers only: a float may be NaN
    if type(values[i]) ~= "string" and math.type(values[i]) ~= "integer" then return s end
  end
  for i = 1, n - 1 do
    local v = values[i]
    node[v] = node[v] or {}
    node = node[v]
  end
  if n > 0 then node[values[n]] = s end
  return s
end

-- the series for label values (a list, in the order of the declared
-- labels), made on first use; nil when the family is full
function Family:get(values)
  values = values or {}
  -- the fast path: the series these very values found before, through a
  -- tree of the raw values (what follows costs a string per label)
  local node, n = self.seen, #self.labels
  for i = 1, n do
    node = node[values[i]]
    if not node then break end
  end
  if node and n > 0 then return node end
  local parts = {}
  for i = 1, #self.labels do
    local v = values[i]
    if v == nil then error(string.format("metric %s: no value for label %s", self.name, self.labels[i]), 3) end
    -- label values come from the traced processes (command names...):
    -- untrusted bytes, made valid UTF-8 with escapes as every exporter needs
    parts[i] = BPF.printable(tostring(v))
  end
  local key = table.concat(parts, "\0")
  local s = self.series[key]
  if s then return remember(self, values, s) end
  if self.nseries >= self.max_series then
    if not self.drops[key] and self.name ~= "bpflua_series_dropped_total" then
      if self.ndrops < MAX_REMEMBERED_DROPS then
        self.drops[key] = true
        self.ndrops = self.ndrops + 1
      end
      self.reg.dropped:add({ self.name }, 1)
    end
    return nil
  end
  local labels = {}
  for i, name in ipairs(self.labels) do labels[i] = { name, parts[i] } end
  s = { labels = labels, value = 0 }
  if self.type == "histogram" then s.counts, s.sum, s.count = {}, 0, 0 end
  self.series[key] = s
  self.keys[#self.keys + 1] = key
  self.nseries = self.nseries + 1
  return remember(self, values, s)
end

function Family:add(values, n)
  local s = self:get(values)
  if s then s.value = s.value + n end
end

function Family:set(values, v)
  local s = self:get(values)
  if s then s.value = v end
end

-- Histograms count in log2 slots of a native unit (as the kernel's
-- bpf_log2l does): slot k holds values up to 2^k - 1, so its upper bound is
-- (2^k - 1) * unit_scale in base units. slots: { [k] = n } to add;
-- sum: in the native unit, exact (summed where the values were seen).
function Family:observe_log2(values, slots, sum, count)
  local s = self:get(values)
  if not s then return end
  local total = 0
  for k, n in pairs(slots) do
    s.counts[k] = (s.counts[k] or 0) + n
    total = total + n
    if n > 0 and k > self.top then self.top = k end
  end
  s.sum = s.sum + (sum or 0)
  s.count = s.count + (count or total)
end

-- one value in the native unit, as the kernel would slot it
function M.log2_slot(v)
  if v < 1 then return 0 end
  if v >= 0x1p63 then return 64 end -- the top slot, as the kernel's
  v = math.floor(v) -- an integer from here
  -- the bit length, by halves (a shift per bit showed in the agent's CPU)
  local k = 1
  if v >= 1 << 32 then v, k = v >> 32, k + 32 end
  if v >= 1 << 16 then v, k = v >> 16, k + 16 end
  if v >= 1 << 8 then v, k = v >> 8, k + 8 end
  if v >= 1 << 4 then v, k = v >> 4, k + 4 end
  if v >= 1 << 2 then v, k = v >> 2, k + 2 end
  if v >= 2 then k = k + 1 end
  return k
end

function Family:observe(values, v)
  self:observe_log2(values, { [M.log2_slot(math.floor(v))] = 1 }, v, 1)
end

-- Removes the series whose label values match (a gauge whose source left).
function Family:remove(values)
  local parts = {}
  for i = 1, #self.labels do parts[i] = BPF.printable(tostring(values[i])) end
  local key = table.concat(parts, "\0")
  if self.series[key] then
    self.series[key] = nil
    self.seen = {} -- the paths to it, with every other: made again on use
    self.nseries = self.nseries - 1
    for i, k in ipairs(self.keys) do
      if k == key then table.remove(self.keys, i) break end
    end
  end
end

-- A histogram's series for the exporters: ascending bounds in base units
-- (+Inf left out) and per-bucket counts (not cumulative), +Inf last. Every
-- series of a family has the same buckets, slots 0 to the highest any has
-- seen, so they only ever grow; the last slot a probe has is its overflow,
-- which the kernel clamps into and which +Inf stands for.
local function hist_series(f, s)
  local bounds, counts = {}, {}
  local scale = f.unit_scale
  local last = f.overflow_slot
  for k = 0, f.top do
    if last and k >= last then break end
    bounds[#bounds + 1] = ((1 << k) - 1) * scale
    counts[#counts + 1] = s.counts[k] or 0
  end
  local inf = 0
  for k, n in pairs(s.counts) do if k > f.top or (last and k >= last) then inf = inf + n end end
  counts[#counts + 1] = inf
  return { labels = s.labels, bounds = bounds, counts = counts, sum = s.sum * scale, count = s.count }
end

function Registry:collect()
  local out = {}
  for _, name in ipairs(self.order) do
    local f = self.families[name]
    local series = {}
    for _, key in ipairs(f.keys) do
      local s = f.series[key]
      if f.type == "histogram" then
        series[#series + 1] = hist_series(f, s)
      else
        series[#series + 1] = { labels = s.labels, value = s.value }
      end
    end
    out[#out + 1] = { name = f.name, help = f.help, type = f.type, series = series }
  end
  return out
end

-- Kernel maps hold running totals that are never reset; a source hands
-- over the totals it read, keyed by anything, and the registry adds what
-- grew since. A tracer restarted by a reload starts again from zero and
-- its counts carry on where they were.
local Deltas = {}
Deltas.__index = Deltas

function M.deltas()
  return setmetatable({ prev = {} }, Deltas)
end

-- the growth of the total under key since the last call (all of it the
-- first time; a total that went down, a map entry that was replaced, counts
-- from zero)
function Deltas:grow(key, total)
  local p = self.prev[key] or 0
  self.prev[key] = total
  if total < p then return total end
  return total - p
end

return M
