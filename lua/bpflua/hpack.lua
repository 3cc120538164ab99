-- HPACK (RFC 7541): enough to read HTTP/2 and gRPC request and response
-- headers from captured HEADERS frames, Huffman-coded strings included.
local M = {}

local STATIC = {
  { ":authority", "" }, { ":method", "GET" }, { ":method", "POST" }, { ":path", "/" },
  { ":path", "/index.html" }, { ":scheme", "http" }, { ":scheme", "https" }, { ":status", "200" },
  { ":status", "204" }, { ":status", "206" }, { ":status", "304" }, { ":status", "400" },
  { ":status", "404" }, { ":status", "500" }, { "accept-charset", "" },
  { "accept-encoding", "gzip, deflate" }, { "accept-language", "" }, { "accept-ranges", "" },
  { "accept", "" }, { "access-control-allow-origin", "" }, { "age", "" }, { "allow", "" },
  { "authorization", "" }, { "cache-control", "" }, { "content-disposition", "" },
  { "content-encoding", "" }, { "content-language", "" }, { "content-length", "" },
  { "content-location", "" }, { "content-range", "" }, { "content-type", "" }, { "cookie", "" },
  { "date", "" }, { "etag", "" }, { "expect", "" }, { "expires", "" }, { "from", "" }, { "host", "" },
  { "if-match", "" }, { "if-modified-since", "" }, { "if-none-match", "" }, { "if-range", "" },
  { "if-unmodified-since", "" }, { "last-modified", "" }, { "link", "" }, { "location", "" },
  { "max-forwards", "" }, { "proxy-authenticate", "" }, { "proxy-authorization", "" },
  { "range", "" }, { "referer", "" }, { "refresh", "" }, { "retry-after", "" }, { "server", "" },
  { "set-cookie", "" }, { "strict-transport-security", "" }, { "transfer-encoding", "" },
  { "user-agent", "" }, { "vary", "" }, { "via", "" }, { "www-authenticate", "" },
}

-- The Huffman code is canonical: codes follow from the bit length of each
-- symbol (0..255, then EOS), listed here from RFC 7541 Appendix B.
local LENGTHS = [[
13 23 28 28 28 28 28 28 28 24 30 28 28 30 28 28 28 28 28 28 28 28 30 28 28 28 28 28 28 28 28 28
6 10 10 12 13 6 8 11 10 10 8 11 8 6 6 6 5 5 5 6 6 6 6 6 6 6 7 8 15 6 12 10
13 6 7 7 7 7 7 7 7 7 7 7 7 7 7 7 7 7 7 7 7 7 7 7 8 7 8 13 19 13 14 6
15 5 6 5 6 5 6 6 6 5 7 7 6 6 6 5 6 7 6 5 5 6 7 7 7 7 7 15 11 14 13 28
20 22 20 20 22 22 22 23 22 23 23 23 23 23 24 23 24 24 22 23 24 23 23 23 23 21 22 23 22 23 23 24
22 21 20 22 22 23 23 21 23 22 22 24 21 22 23 23 21 21 22 21 23 22 23 23 20 22 22 22 23 22 22 23
26 26 20 19 22 23 22 25 26 26 26 27 27 26 24 25 19 21 26 27 27 26 27 24 21 21 26 26 28 27 27 27
20 24 20 21 22 21 21 23 22 22 25 25 24 24 26 23 26 27 26 26 27 27 27 27 27 28 27 27 27 27 27 26
30]]

-- decode[len][code] = symbol
local decode = {}
do
  local lens, order = {}, {}
  for n in LENGTHS:gmatch("%d+") do lens[#lens + 1] = tonumber(n) end
  for sym = 0, 256 do order[#order + 1] = sym end
  table.sort(order, function(a, b)
    if lens[a + 1] ~= lens[b + 1] then return lens[a + 1] < lens[b + 1] end
    return a < b
  end)
  local code, prev = 0, lens[order[1] + 1]
  for i, sym in ipairs(order) do
    local len = lens[sym + 1]
    if i > 1 then code = (code + 1) << (len - prev) end
    prev = len
    decode[len] = decode[len] or {}
    decode[len][code] = sym
  end
end

function M.huffman(s)
  local out, acc, nbits = {}, 0, 0
  for i = 1, #s do
    local byte = s:byte(i)
    for bit = 7, 0, -1 do
      acc = (acc << 1) | ((byte >> bit) & 1)
      nbits = nbits + 1
      local sym = decode[nbits] and decode[nbits][acc]
      if sym then
        if sym == 256 then return nil, "EOS in a Huffman string" end
        out[#out + 1] = string.char(sym)
        acc, nbits = 0, 0
      elseif nbits > 30 then
        return nil, "bad Huffman code"
      end
    end
  end
  -- what is left must be padding: at most 7 bits, all ones
  if nbits > 7 or acc ~= (1 << nbits) - 1 then return nil, "bad Huffman padding" end
  return table.concat(out)
end

-- integer with an N-bit prefix at position pos; returns value, next pos.
-- At most 4 continuation bytes (28 bits) past the prefix: nothing a
-- header block holds needs more, and a longer run is garbage.
local function integer(s, pos, prefix)
  local max = (1 << prefix) - 1
  local b = s:byte(pos)
  if not b then return nil end
  local v = b & max
  pos = pos + 1
  if v < max then return v, pos end
  local shift = 0
  repeat
    b = s:byte(pos)
    if not b or shift > 21 then return nil end
    v = v + ((b & 0x7f) << shift)
    shift = shift + 7
    pos = pos + 1
  until b & 0x80 == 0
  return v, pos
end

local function str(s, pos)
  local b = s:byte(pos)
  if not b then return nil end
  local len, p = integer(s, pos, 7)
  if not len or p + len - 1 > #s then return nil end
  local raw = s:sub(p, p + len - 1)
  if b & 0x80 ~= 0 then
    local v = M.huffman(raw)
    if not v then return nil end
    raw = v
  end
  return raw, p + len
end

-- The table size every HTTP/2 endpoint starts with (SETTINGS_HEADER_TABLE_SIZE).
M.DEFAULT_TABLE_SIZE = 4096

-- A decoder keeps the dynamic table of one direction of one connection.
-- The table is a ring: entries are numbered as they arrive, newest last,
-- so adding and evicting are O(1) whatever the table holds.
local Decoder = {}
Decoder.__index = Decoder

-- opts (or a number: the table size): size, the table size to start with;
-- limit, the most a size update may ask for (the peer's SETTINGS value);
-- max_list, the most a decoded header list may hold (name + value + 32
-- per field, as RFC 7540 counts it): fields past it are dropped.
function M.decoder(opts)
  if type(opts) ~= "table" then opts = { size = opts } end
  local size = opts.size or M.DEFAULT_TABLE_SIZE
  return setmetatable({ ring = {}, first = 1, last = 0, size = 0, max = size,
                        limit = opts.limit or size, max_list = opts.max_list or math.huge }, Decoder)
end

-- The peer allows this much (a SETTINGS_HEADER_TABLE_SIZE it sent): size
-- updates up to it are valid from now on.
function Decoder:set_limit(n)
  self.limit = n
end

function Decoder:evict()
  while self.size > self.max and self.last >= self.first do
    local e = self.ring[self.first]
    self.ring[self.first] = nil
    self.first = self.first + 1
    self.size = self.size - (#e[1] + #e[2] + 32)
  end
end

function Decoder:add(name, value)
  self.last = self.last + 1
  self.ring[self.last] = { name, value }
  self.size = self.size + #name + #value + 32
  self:evict()
end

function Decoder:entries()
  return self.last - self.first + 1
end

function Decoder:entry(i)
  if i >= 1 and i <= #STATIC then return STATIC[i] end
  local at = self.last - (i - #STATIC) + 1
  if at < self.first or at > self.last then return nil end
  return self.ring[at]
end

-- A header block -> list of { name, value }, or nil and a reason. A list
-- past max_list comes back cut, with a reason as second value: the table
-- is kept in step all the same.
function Decoder:decode(block)
  local headers, pos, list, cut = {}, 1, 0, nil
  while pos <= #block do
    local b = block:byte(pos)
    local name, value
    if b & 0x80 ~= 0 then -- indexed field
      local i
      i, pos = integer(block, pos, 7)
      local e = i and self:entry(i)
      if not e then return nil, "bad index" end
      name, value = e[1], e[2]
    elseif b & 0xe0 == 0x20 then -- dynamic table size update
      if #headers > 0 or cut then return nil, "size update after a field" end
      local size
      size, pos = integer(block, pos, 5)
      if not size then return nil, "bad size update" end
      if size > self.limit then return nil, "size update above the limit" end
      self.max = size
      self:evict()
    else
      local prefix = (b & 0xc0 == 0x40) and 6 or 4
      local i
      i, pos = integer(block, pos, prefix)
      if not i then return nil, "bad literal" end
      if i > 0 then
        local e = self:entry(i)
        if not e then return nil, "bad name index" end
        name = e[1]
      else
        name, pos = str(block, pos)
        if not name then return nil, "bad name" end
      end
      value, pos = str(block, pos)
      if not value then return nil, "bad value" end
      if prefix == 6 then self:add(name, value) end
    end
    if name then
      list = list + #name + #value + 32
      if list > self.max_list then
        cut = "header list too large"
      else
        headers[#headers + 1] = { name, value }
      end
    end
  end
  return headers, cut
end

return M
