-- Metrics declared from a BPF program's maps, as ebpf_exporter's configs
-- declare them: a Lua file returns
--   { name = "...", description = "...",
--     text = [[ BPF C ]],             -- or probe = "NAME", defines = {...}
--     attach = function(b) ... end,   -- optional: TRACEPOINT_PROBE and
--                                     -- RAW_TRACEPOINT_PROBE attach themselves
--     metrics = {
--       { type = "counter" | "gauge", name = "..._total", help = "...", table = "MAP",
--         labels = { { name = "syscall", field = "nr", decode = "syscall" }, ... },
--         value = "FIELD" },          -- a struct value's field (default: the value)
--       { type = "histogram", name = "..._seconds", help = "...", table = "MAP",
--         slot = "FIELD",             -- the key's log2 slot field (a plain integer key
--                                     -- is the slot itself)
--         sum_table = "MAP",          -- the exact sum in the native unit, keyed by
--                                     -- the labels' fields (or 0 without labels)
--         unit_scale = 1e-9, overflow_slot = N, labels = {...} } } }
-- Labels come from the key: `field` names a member of a struct key (a
-- plain key is the value itself), `decode` says how it reads: syscall,
-- errno, ksym, comm (a char array), address (4 or 16 bytes), int, string,
-- or a function(value) -> string. No C changes: the BPF program is the
-- file's own, its maps are read as they are.
local metrics = require("bpflua.metrics")
local probe = require("bpflua.probe")

local M = {}

local function bytes(v)
  if type(v) == "table" then return v end
  return { tostring(v):byte(1, -1) }
end

M.DECODERS = {
  syscall = function(v) return BPF.syscall_name(v) end,
  errno = function(v) return BPF.errno_name(v) end,
  ksym = function(v) return BPF.ksym(v) end,
  comm = function(v)
    if type(v) == "table" then v = string.char(table.unpack(v)) end
    return (tostring(v):gsub("%z.*$", "")) -- the registry escapes what is not printable
  end,
  address = function(v)
    local b = bytes(v)
    return BPF.inet_ntop(#b == 4 and 2 or 10, b)
  end,
  int = function(v) return string.format("%d", v) end,
  string = function(v) return tostring(v) end,
}

local function fail(decl, msg)
  error(BPF.error("usage", string.format("%s: %s", decl.path or decl.name or "exporter", msg)), 0)
end

-- search path: BPFLUA_PATH's exporters/, then the installed and the source tree's
function M.search_path()
  local dirs = {}
  for d in (os.getenv("BPFLUA_PATH") or ""):gmatch("[^:]+") do dirs[#dirs + 1] = d end
  dirs[#dirs + 1] = "/usr/local/share/bpflua/exporters"
  dirs[#dirs + 1] = (BPF.scripts_dir:gsub("/scripts$", "")) .. "/exporters"
  return dirs
end

function M.find(name)
  if name:find("/") then return name end
  for _, d in ipairs(M.search_path()) do
    local p = d .. "/" .. name .. ".lua"
    local f = io.open(p, "r")
    if f then
      f:close()
      return p
    end
  end
end

local KINDS = { counter = true, gauge = true, histogram = true }

-- Loads and checks a declaration (nothing is compiled yet).
function M.load(name)
  local path = M.find(name)
  if not path then
    error(BPF.error("usage", string.format("no exporter named '%s' (searched %s)", name,
      table.concat(M.search_path(), ":"))), 0)
  end
  local chunk, err = loadfile(path, "t", setmetatable({}, { __index = _G }))
  if not chunk then error(BPF.error("usage", err), 0) end
  local ok, decl = pcall(chunk)
  if not ok then error(BPF.error("usage", tostring(decl)), 0) end
  if type(decl) ~= "table" then fail({ path = path }, "an exporter returns a table") end
  decl.path = path
  if type(decl.name) ~= "string" then fail(decl, "an exporter needs a name") end
  if type(decl.text) ~= "string" and type(decl.probe) ~= "string" then fail(decl, "an exporter needs text (BPF C) or probe") end
  if type(decl.metrics) ~= "table" or #decl.metrics == 0 then fail(decl, "an exporter declares a list of metrics") end
  for i, m in ipairs(decl.metrics) do
    if not KINDS[m.type] then fail(decl, string.format("metrics[%d]: type must be counter, gauge or histogram", i)) end
    if type(m.name) ~= "string" or type(m.table) ~= "string" then
      fail(decl, string.format("metrics[%d]: needs a name and a table", i))
    end
    for j, l in ipairs(m.labels or {}) do
      if type(l.name) ~= "string" then fail(decl, string.format("%s: label %d needs a name", m.name, j)) end
      local dec = l.decode or "int"
      if type(dec) ~= "function" and not M.DECODERS[dec] then
        fail(decl, string.format("%s: label %s: no decoder '%s' (syscall, errno, ksym, comm, address, int, string)",
          m.name, l.name, tostring(dec)))
      end
    end
  end
  return decl
end

local function labels_of(m, key)
  local out = {}
  for i, l in ipairs(m.labels or {}) do
    local v = key
    if type(key) == "table" then
      v = key[l.field or l.name]
      if v == nil then error(string.format("%s: the key has no field %s", m.name, l.field or l.name)) end
    end
    local dec = l.decode or "int"
    out[i] = type(dec) == "function" and tostring(dec(v)) or M.DECODERS[dec](v)
  end
  return out
end

local function total(v, field)
  if type(v) == "table" and v[1] ~= nil then -- per-CPU: one value per CPU
    local s = 0
    for _, x in ipairs(v) do s = s + (field and x[field] or x) end
    return s
  end
  if field then return v[field] end
  return v
end

-- a key's identity as the labels see it: their fields' values (a plain
-- key is its own identity)
local function keystr(m, key)
  if type(key) ~= "table" then return tostring(key) end
  local parts = {}
  for i, l in ipairs(m.labels or {}) do
    local v = key[l.field or l.name]
    parts[i] = type(v) == "table" and table.concat(v, ",") or tostring(v)
  end
  return table.concat(parts, "\0")
end

-- A source for the agent (see agent/sources.lua): loads the program,
-- declares the families, and reads the maps on collect.
function M.source(decl, reg)
  local b
  if decl.text then
    b = BPF{ text = decl.text, cflags = decl.cflags }
  else
    b = probe.load(decl.probe, decl.defines, decl.config)
  end
  if decl.attach then decl.attach(b) end
  local readers = {}
  for _, m in ipairs(decl.metrics) do
    local names = {}
    for i, l in ipairs(m.labels or {}) do names[i] = l.name end
    local fam = reg[m.type](reg, { name = m.name, help = m.help, labels = names,
                                   unit_scale = m.unit_scale, overflow_slot = m.overflow_slot })
    local t = b:get_table(m.table)
    local sum_t = m.sum_table and b:get_table(m.sum_table)
    local d = metrics.deltas()
    readers[#readers + 1] = function()
      if m.type == "histogram" then
        local by = {}
        for key, v in t:items() do
          local n = total(v)
          local slot = type(key) == "table" and key[m.slot or "slot"] or key
          local lk = type(key) == "table" and keystr(m, key) or ""
          local grown = d:grow(lk .. "#" .. slot, n)
          if grown > 0 then
            local e = by[lk]
            if not e then
              e = { key = key, slots = {} }
              by[lk] = e
            end
            e.slots[slot] = (e.slots[slot] or 0) + grown
          end
        end
        local sums = {}
        if sum_t then
          for key, v in sum_t:items() do sums[type(key) == "table" and keystr(m, key) or ""] = total(v) end
        end
        for lk, e in pairs(by) do
          local s = sums[lk] and d:grow("sum#" .. lk, sums[lk]) or 0
          fam:observe_log2(labels_of(m, e.key), e.slots, s)
        end
      else
        -- map entries whose labels read the same are one series
        local rows, by = {}, {}
        for key, v in t:items() do
          local n = total(v, m.value)
          if n and n ~= 0 then
            local id = keystr(m, key)
            local r = by[id]
            if r then r.n = r.n + n else
              r = { key = key, id = id, n = n }
              by[id] = r
              rows[#rows + 1] = r
            end
          end
        end
        table.sort(rows, function(x, y) return x.n > y.n end)
        for _, r in ipairs(rows) do
          if m.type == "gauge" then
            fam:set(labels_of(m, r.key), r.n)
          else
            local grown = d:grow(r.id, r.n)
            if grown > 0 then fam:add(labels_of(m, r.key), grown) end
          end
        end
      end
    end
  end
  return {
    poll = function() if decl.poll then decl.poll(b) end end,
    lost = function() return 0 end,
    close = function() b:cleanup() end,
    collect = function() for _, r in ipairs(readers) do r() end end,
  }
end

return M
