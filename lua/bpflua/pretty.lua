-- Values as the REPL shows them: Lua tables nested with sorted keys and
-- bounded depth and rows, lists of names in columns as ls lays them out,
-- BPF tables as bpftrace prints its maps (histograms drawn), iterators
-- expanded into rows. Every string that may come from outside (keys,
-- process names, symbols) goes through BPF.printable.
local hist = require("bpflua.hist")

local M = {}

M.DEPTH = 4          -- nesting shown before "{...}"
M.ROWS = 100         -- entries of one Lua table before "... N more"
M.MAP_ROWS = 500     -- rows of a BPF table or an iterator
M.SORT_MAX = 10000   -- a BPF table larger than this is shown unsorted, at once
M.NAMES_MAX = 5000   -- names laid out in columns

local KEYWORDS = {}
for w in ([[and break do else elseif end false for function goto if in local nil not or
  repeat return then true until while]]):gmatch("%a+") do KEYWORDS[w] = true end

local NAMES = { __name = "bpflua.names" }

-- Marks a list of strings as names, shown in columns.
function M.names(list)
  return setmetatable(list, NAMES)
end

function M.is_bpf_table(v)
  local mt = type(v) == "userdata" and getmetatable(v)
  return mt and mt.__index == BPF.table_methods or false
end

function M.is_bpf_object(v)
  local mt = type(v) == "userdata" and getmetatable(v)
  return mt and mt.__methods == BPF.methods or false
end

local function quote(s)
  return '"' .. BPF.printable(s):gsub('"', '\\"') .. '"'
end

local function number(v)
  if math.type(v) == "integer" then return tostring(v) end
  return string.format("%.14g", v)
end

-- set by interactive.lua: how a function is named (its signature)
M.describe_function = function(f) return tostring(f) end

local function scalar(v)
  local t = type(v)
  if t == "string" then return quote(v)
  elseif t == "number" then return number(v)
  elseif t == "function" then return "<" .. M.describe_function(v, true) .. ">"
  elseif M.is_bpf_table(v) then return "<" .. tostring(v) .. ">"
  elseif M.is_bpf_object(v) then
    local ok, tables = pcall(v.tables, v)
    return ok and ("<BPF object: " .. table.concat(tables, ", ") .. ">") or "<BPF object (cleaned up)>"
  end
  return BPF.printable(tostring(v))
end

local ORDER = { number = 1, string = 2, boolean = 3 }
local function key_less(a, b)
  local ta, tb = ORDER[type(a)] or 4, ORDER[type(b)] or 4
  if ta ~= tb then return ta < tb end
  if ta == 1 or ta == 2 then return a < b end
  return tostring(a) < tostring(b)
end

local function key_text(k)
  if type(k) == "string" and k:match("^[%a_][%w_]*$") and not KEYWORDS[k] then return k end
  return "[" .. scalar(k) .. "]"
end

-- The entries of a table in the order shown: the sequence 1..n first, then
-- the other keys sorted. Returns at most limit of them, and how many there are.
local function entries(t, limit)
  local n = 0
  while rawget(t, n + 1) ~= nil do n = n + 1 end
  local rest = {}
  for k in next, t do
    if not (math.type(k) == "integer" and k >= 1 and k <= n) then rest[#rest + 1] = k end
  end
  table.sort(rest, key_less)
  local out, total = {}, n + #rest
  for i = 1, math.min(n, limit) do out[#out + 1] = { v = rawget(t, i) } end
  for i = 1, math.min(#rest, limit - #out) do out[#out + 1] = { k = rest[i], v = rawget(t, rest[i]) } end
  return out, total
end

local function has_tostring(v)
  local mt = getmetatable(v)
  return type(mt) == "table" and mt.__tostring ~= nil and mt ~= NAMES
end

-- One line, or nil when it would not fit in width.
local function inline(v, depth, seen, width)
  if type(v) ~= "table" then return scalar(v) end
  if has_tostring(v) then
    local s = tostring(v)
    return not s:find("\n") and s or nil
  end
  if seen[v] then return "<cycle>" end
  local es, total = entries(v, M.ROWS)
  if total == 0 then return "{}" end
  if depth >= M.DEPTH then return string.format("{... %d entr%s}", total, total == 1 and "y" or "ies") end
  seen[v] = true
  local parts, len = {}, 2
  for _, e in ipairs(es) do
    local s = inline(e.v, depth + 1, seen, width)
    if not s then seen[v] = nil; return nil end
    if e.k ~= nil then s = key_text(e.k) .. " = " .. s end
    parts[#parts + 1] = s
    len = len + #s + 2
    if len > width then seen[v] = nil; return nil end
  end
  if total > #es then parts[#parts + 1] = string.format("... %d more", total - #es) end
  seen[v] = nil
  return "{" .. table.concat(parts, ", ") .. "}"
end

local function block(v, indent, depth, seen, width, out, prefix, suffix)
  local one = inline(v, depth, seen, width - #indent - #prefix - #suffix)
  if one then
    out[#out + 1] = indent .. prefix .. one .. suffix
    return
  end
  if type(v) ~= "table" or has_tostring(v) then -- a multi-line __tostring
    out[#out + 1] = indent .. prefix .. tostring(v):gsub("\n", "\n" .. indent) .. suffix
    return
  end
  seen[v] = true
  out[#out + 1] = indent .. prefix .. "{"
  local es, total = entries(v, M.ROWS)
  local more = total - #es
  local flat = true
  for _, e in ipairs(es) do
    if e.k ~= nil or type(e.v) == "table" then flat = false break end
  end
  if flat then -- a list of scalars: as many to a line as fit
    local line = indent .. " "
    for _, e in ipairs(es) do
      local s = " " .. scalar(e.v) .. ","
      if #line + #s > width and #line > #indent + 1 then
        out[#out + 1] = line
        line = indent .. " "
      end
      line = line .. s
    end
    out[#out + 1] = line
    es = {}
  end
  for _, e in ipairs(es) do
    block(e.v, indent .. "  ", depth + 1, seen, width, out, e.k ~= nil and (key_text(e.k) .. " = ") or "", ",")
  end
  if more > 0 then out[#out + 1] = string.format("%s  ... %d more", indent, more) end
  out[#out + 1] = indent .. "}" .. suffix
  seen[v] = nil
end

-- A list of strings in columns, filled top to bottom as ls does.
function M.columns(list, width)
  local items = {}
  local n = math.min(#list, M.NAMES_MAX)
  local w = 0
  for i = 1, n do
    items[i] = BPF.printable(tostring(list[i]))
    w = math.max(w, utf8.len(items[i]) or #items[i])
  end
  local out = {}
  local ncols = math.max(1, (width + 2) // (w + 2))
  local nrows = (n + ncols - 1) // ncols
  for r = 1, nrows do
    local line = {}
    for c = 0, ncols - 1 do
      local s = items[c * nrows + r]
      if s then
        local pad = c * nrows + r + nrows <= n and string.rep(" ", w + 2 - (utf8.len(s) or #s)) or ""
        line[#line + 1] = s .. pad
      end
    end
    out[#out + 1] = table.concat(line)
  end
  if #list > n then out[#out + 1] = string.format("... %d more", #list - n) end
  return out
end

local function is_name_list(v)
  if getmetatable(v) == NAMES then return true end
  if getmetatable(v) ~= nil or #v < 2 then return false end
  local n = 0
  for k, x in pairs(v) do
    n = n + 1
    if type(x) ~= "string" or math.type(k) ~= "integer" then return false end
  end
  return n == #v
end

-- BPF tables ---------------------------------------------------------------

local function sum_of(v)
  if type(v) == "number" then return v end
  if type(v) == "table" and #v > 0 then -- per-CPU values
    local s = 0
    for _, x in ipairs(v) do
      if type(x) ~= "number" then return nil end
      s = s + x
    end
    return s
  end
  return nil
end

local function field_text(v)
  if type(v) == "string" then return BPF.printable(v) end
  if type(v) == "table" then return inline(v, 1, {}, math.huge) end
  return scalar(v)
end

-- bpftrace writes @map[k1, k2]; a struct key's fields are named, sorted.
local function map_key_text(k, skip)
  if type(k) ~= "table" then return field_text(k) end
  local names = {}
  for f in pairs(k) do
    if f ~= skip then names[#names + 1] = f end
  end
  table.sort(names, key_less)
  local parts = {}
  for i, f in ipairs(names) do parts[i] = tostring(f) .. "=" .. field_text(k[f]) end
  return table.concat(parts, ", ")
end

-- A BCC histogram: an integer key and a u64 count in a table named for it
-- (BPF_HISTOGRAM(dist)), or a struct key with a slot field (BCC's
-- { key, slot } for one histogram per key). A name with "lin" is linear.
local function histogram_kind(info, sample_key)
  if info.value_size ~= 8 then return nil end
  local name = info.name:lower()
  local linear = name:find("lin") and "linear" or "log2"
  if type(sample_key) == "table" and math.type(sample_key.slot) == "integer" then return linear end
  if math.type(sample_key) == "integer" and (name:find("hist") or name:find("dist")) then return linear end
  return nil
end

local function linear_lines(vals, label)
  local mink, maxk, max = math.huge, -math.huge, 0
  for k, v in pairs(vals) do
    if v > 0 then mink, maxk, max = math.min(mink, k), math.max(maxk, k), math.max(max, v) end
  end
  if maxk < mink then return {} end
  return hist.linear_lines(vals, label, mink, maxk, max)
end

local function histogram_lines(t, info, kind, rows, out)
  local groups, order = {}, {}
  for _, r in ipairs(rows) do
    local slot = type(r.k) == "table" and r.k.slot or r.k
    local text = type(r.k) == "table" and map_key_text(r.k, "slot") or ""
    local g = groups[text]
    if not g then
      g = {}
      groups[text] = g
      order[#order + 1] = text
    end
    g[slot] = (g[slot] or 0) + (r.n or 0)
  end
  table.sort(order)
  for _, text in ipairs(order) do
    out[#out + 1] = "@" .. BPF.printable(info.name) .. (text ~= "" and ("[" .. text .. "]") or "") .. ":"
    local lines = kind == "log2" and hist.log2_lines(groups[text], "value") or linear_lines(groups[text], "value")
    for _, l in ipairs(lines) do out[#out + 1] = l end
    out[#out + 1] = ""
  end
  if #order == 0 then out[#out + 1] = "@" .. BPF.printable(info.name) .. ": (empty histogram)" end
  if out[#out] == "" then out[#out] = nil end
end

-- A BPF table as bpftrace prints a map: @name[key]: value, smallest value
-- first. A table of more than SORT_MAX entries shows its first MAP_ROWS
-- rows as they come, so a 100,000-entry map answers at once.
function M.bpf_table(t)
  local info = t:info()
  local name = BPF.printable(info.name)
  if info.kind == "ringbuf" or info.kind == "perf_event_array" then
    return { string.format("BPF table %s: %s, an event stream (t:open_%s_buffer(callback), then poll)",
      name, info.kind, info.kind == "ringbuf" and "ring" or "perf") }
  elseif info.kind == "stack_trace" then
    return { string.format("BPF table %s: stack_trace, %d stacks (t:walk(id) gives one)", name, #t) }
  end
  local total = #t
  if total == 0 then return { "@" .. name .. ": (empty)" } end
  local sorted = total <= M.SORT_MAX
  local limit = sorted and math.huge or M.MAP_ROWS
  local rows, zeros, is_array = {}, 0, info.kind:find("array") ~= nil
  for k, v in t:items() do
    local n = sum_of(v)
    if is_array and n == 0 then
      zeros = zeros + 1
    else
      rows[#rows + 1] = { k = k, v = v, n = n }
      if #rows >= limit then break end
    end
  end
  local out = {}
  if #rows == 0 then return { string.format("@%s: all %d entries are zero", name, zeros) } end
  local kind = histogram_kind(info, rows[1].k)
  if kind then
    histogram_lines(t, info, kind, rows, out)
    return out
  end
  for _, r in ipairs(rows) do r.text = map_key_text(r.k) end
  if sorted then
    table.sort(rows, function(a, b)
      if a.n and b.n and a.n ~= b.n then return a.n < b.n end
      return a.text < b.text
    end)
  end
  local first = 1
  if sorted and #rows > M.MAP_ROWS then
    first = #rows - M.MAP_ROWS + 1
    out[#out + 1] = string.format("... %d more entries with smaller values (#%s = %d)", first - 1, name, total)
  end
  for i = first, #rows do
    local r = rows[i]
    local v = type(r.v) == "table" and r.n and number(r.n) or field_text(r.v)
    out[#out + 1] = string.format("@%s[%s]: %s", name, r.text, v)
  end
  if not sorted then
    out[#out + 1] = string.format("... %d more (%d entries in all, shown unsorted past %d; t:items() walks them all)",
      total - #rows, total, M.SORT_MAX)
  end
  if zeros > 0 and is_array then
    out[#out + 1] = string.format("(%d zero entr%s not shown)", zeros, zeros == 1 and "y" or "ies")
  end
  return out
end

-- Rows of an iterator (what a for loop would see), at most MAP_ROWS.
function M.iterate(f, s, c, width)
  local out = {}
  while true do
    local vals = table.pack(f(s, c))
    if vals[1] == nil then break end
    c = vals[1]
    if #out >= M.MAP_ROWS then
      out[#out + 1] = string.format("... stopped after %d rows", M.MAP_ROWS)
      break
    end
    local parts = {}
    for i = 1, vals.n do parts[i] = inline(vals[i], 1, {}, width) or "{...}" end
    out[#out + 1] = table.concat(parts, "\t")
  end
  if #out == 0 then out[1] = "(no rows)" end
  return out
end

-- The lines that show v.
function M.lines(v, width)
  width = width or 80
  if M.is_bpf_table(v) then
    local ok, lines = pcall(M.bpf_table, v)
    if ok then return lines end
    return { tostring(v) .. " (" .. tostring(lines) .. ")" }
  elseif type(v) == "function" then
    return { M.describe_function(v) }
  elseif type(v) == "table" and not has_tostring(v) and is_name_list(v) then
    local one = inline(v, 0, {}, width)
    if one and getmetatable(v) ~= NAMES then return { one } end
    return M.columns(v, width)
  end
  local out = {}
  block(v, "", 0, {}, width, out, "", "")
  return out
end

function M.show(v, width)
  return table.concat(M.lines(v, width), "\n")
end

return M
