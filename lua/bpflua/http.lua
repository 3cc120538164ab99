-- Requests and responses from captured socket payloads, per connection:
-- HTTP/1.x request and status lines, and HTTP/2 (h2c, gRPC) frames with
-- their HPACK-coded HEADERS. Each payload comes with the number of bytes
-- the call really moved; what was not captured is a hole the frame parser
-- steps over, so it stays in step with the stream.
--
-- Every byte here comes from another process, so the decoders are total:
-- whatever they are fed, they neither raise nor grow without bound. What
-- breaks the protocol is counted in stats.malformed (with a reason in
-- stats.why) and skipped; what would outgrow M.LIMITS is evicted, oldest
-- first, and counted.
local hpack = require("bpflua.hpack")

local M = {}

-- Every bound on what one connection can make the tracer hold.
M.LIMITS = {
  pending = 64,         -- HTTP/1 requests waiting for their response, per connection
  streams = 128,        -- open HTTP/2 streams per connection
  header_block = 65536, -- bytes of one HEADERS/PUSH_PROMISE block with its CONTINUATIONs
  header_list = 65536,  -- a decoded header list (name + value + 32 per field), past it cut
  table_size = 65536,   -- HPACK dynamic table, whatever a SETTINGS frame asks for
  settings = 36 * 6,    -- bytes of a SETTINGS frame read (36 settings); the rest is skipped
  field = 1024,         -- bytes of a method or path kept with a request
  connections = 16384,  -- connections the tracer follows at once
}

local PREFACE = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
local SEND, RECV = 0, 1
local DATA, HEADERS, RST_STREAM, SETTINGS, PUSH_PROMISE, CONTINUATION = 0, 1, 3, 4, 5, 9
local END_STREAM, ACK, END_HEADERS, PADDED, PRIORITY = 0x1, 0x1, 0x4, 0x8, 0x20
local SETTINGS_HEADER_TABLE_SIZE = 1

-- Counters shared by the connections of one trace.
function M.stats()
  return { malformed = 0, evicted_requests = 0, evicted_streams = 0, evicted_connections = 0, why = {} }
end

local Conn = {}
Conn.__index = Conn

-- rest[dir]: the body still to come in that direction, for a message whose
-- body runs past its capture: { bytes = N } (a length), { chunked = true }
-- or { close = true } (a response that runs to the close); with `rec`, the
-- response whose record waits for its last byte.
function M.conn(stats)
  return setmetatable({ queue = {}, h2 = nil, rest = {}, stats = stats or M.stats() }, Conn)
end

-- why: a fixed string, so stats.why stays as small as the list of reasons
function Conn:bad(why)
  local s = self.stats
  s.malformed = s.malformed + 1
  s.why[why] = (s.why[why] or 0) + 1
end

-- HTTP/1 ---------------------------------------------------------------------

-- The end of a blank line ("\n\r\n" or "\n\n") at or after pos: the
-- position of its last byte, or nil. Two plain searches: the pattern
-- "\n\r?\n" tried at every byte of a header block cost a tenth of the
-- decoding.
local function blank_line_end(data, pos)
  local a = data:find("\n\r\n", pos, true)
  local b = data:find("\n\n", pos, true)
  if a and (not b or a < b) then return a + 2 end
  return b and b + 1
end

-- The body length a header block announces: a number, "chunked", or nil
-- (none: a response then runs to the connection's close); false when the
-- headers contradict themselves.
-- The two names are looked for as plain text in the lowered block: a
-- pattern walked over every header cost more than the rest of the decoding.
local function body_length(head)
  local length, chunked
  head = head:lower()
  local pos = 1
  while true do
    local _, colon = head:find("\ncontent-length:", pos, true)
    if not colon then break end
    pos = colon + 1
    -- digits, blanks, then the line's end
    local n, after = head:match("^[ \t]*(%d+)[ \t]*()", pos)
    local stop = n and head:byte(after)
    if not n or (stop and stop ~= 13 and stop ~= 10) or #n > 15 or (length and length ~= tonumber(n)) then
      return false
    end
    length = tonumber(n)
  end
  pos = 1
  while true do
    local _, colon = head:find("\ntransfer-encoding:", pos, true)
    if not colon then break end
    pos = colon + 1
    chunked = head:match("^[ \t]*([^\r\n]*)", pos):find("chunked[ \t]*$") ~= nil
  end
  if chunked then return "chunked" end
  return length
end

-- The end of a chunked body starting at pos: the position after it; nil
-- when it runs past the capture, false when it is not chunked coding.
local function chunked_end(data, pos)
  while true do
    local hex, p = data:match("^(%x+)[^\r\n]*\r?\n()", pos)
    if not hex then
      if not data:find("\n", pos, true) then return nil end
      return false
    end
    if #hex > 8 then return false end
    local size = tonumber(hex, 16)
    if size == 0 then -- trailers, then a blank line
      if data:match("^\r?\n", p) then return data:match("^\r?\n()", p) end
      local e = blank_line_end(data, p - 1)
      return e and e + 1
    end
    pos = p + size
    local after = data:match("^\r?\n()", pos)
    if not after then
      if pos > #data then return nil end
      return false
    end
    pos = after
  end
end

-- One request or response at pos, recorded; returns the position after
-- it, or nil when what follows is not whole in this capture.
function Conn:http1_message(e, data, pos, out)
  local method, path, version, p = data:match("^(%u+) (%S+) (HTTP/1%.%d)\r?\n()", pos)
  local status, req, rec
  if method then
    if #self.queue >= M.LIMITS.pending then
      table.remove(self.queue, 1)
      self.stats.evicted_requests = self.stats.evicted_requests + 1
    end
    self.queue[#self.queue + 1] = { method = method:sub(1, M.LIMITS.field), path = path:sub(1, M.LIMITS.field),
                                    protocol = version, ts = e.ts, dir = e.dir }
  else
    status, p = data:match("^HTTP/1%.%d (%d%d%d)[^\r\n]*\r?\n()", pos)
    if not status then
      -- a start line cut by the capture, or garbage
      if data:find("\n", pos, true) then self:bad("bad HTTP/1 start line") end
      return nil
    end
    status = tonumber(status)
    if status >= 200 or status == 101 then -- 1xx but 101 are interim
      for i, r in ipairs(self.queue) do
        if r.dir ~= e.dir then
          req = table.remove(self.queue, i)
          rec = { method = r.method, path = r.path, status = status, protocol = r.protocol, start_ts = r.ts,
                  first_ts = e.ts, latency_ms = (e.ts - r.ts) / 1e6, side = r.dir == SEND and "client" or "server" }
          break
        end
      end
    end
    if status == 101 then -- another protocol from here
      if rec then M.finish(rec, out, e.ts) end
      return nil
    end
  end
  -- the header block, and the body it announces
  local hend = blank_line_end(data, p - 1)
  if not hend then
    -- headers past the capture: where the message ends is not known
    if rec then M.finish(rec, out, nil) end
    return nil
  end
  local body = 0
  if not status or (status >= 200 and status ~= 204 and status ~= 304 and not (req and req.method == "HEAD")) then
    body = body_length(data:sub(p - 1, hend))
    if body == false then
      self:bad("bad HTTP/1 body length")
      if rec then M.finish(rec, out, nil) end
      return nil
    end
    if body == nil then body = method and 0 or nil end
  end
  if body == nil then -- runs to the close
    self.rest[e.dir] = { close = true, rec = rec }
    return nil
  end
  if body == "chunked" then
    local stop = chunked_end(data, hend + 1)
    if stop == false then
      self:bad("bad HTTP/1 chunk")
      if rec then M.finish(rec, out, nil) end
      return nil
    end
    if stop then
      if rec then M.finish(rec, out, e.ts) end
      return stop
    end
    self.rest[e.dir] = { chunked = true, rec = rec }
    return nil
  end
  -- the message's end, counted in the bytes the call moved (e.len), of
  -- which only the first #data were captured
  local after = hend + 1 + body
  if after - 1 > e.len then
    self.rest[e.dir] = { bytes = after - 1 - e.len, rec = rec }
    return nil
  end
  if rec then M.finish(rec, out, e.ts) end
  return after
end

-- A response's record is out once its last byte is seen (at ts), or once
-- it is known that it will not be (ts nil: total_ms stays unset). start_ts
-- and end_ts: the kernel's clock (CLOCK_MONOTONIC), for spans.
function M.finish(rec, out, ts)
  if ts then rec.total_ms = (ts - rec.start_ts) / 1e6 end
  rec.end_ts, rec.first_ts = ts or rec.first_ts, nil
  out[#out + 1] = rec
end

-- The rest of a body from an earlier call in this direction: returns where
-- the next message starts in data, or nil when this call is all body.
function Conn:http1_rest(e, data, out)
  local r = self.rest[e.dir]
  -- a new message where a body was expected: that body ended unseen (a
  -- payload lost on the way, or a length that lied); reading starts over
  if data:find("^HTTP/1%.%d %d%d%d ") or data:find("^%u+ %S+ HTTP/1%.%d\r?\n") then
    self.rest[e.dir] = nil
    if r.rec then M.finish(r.rec, out, nil) end
    return 1
  end
  if r.bytes then
    if r.bytes >= e.len then
      r.bytes = r.bytes - e.len
      if r.bytes == 0 then
        self.rest[e.dir] = nil
        if r.rec then M.finish(r.rec, out, e.ts) end
      end
      return nil
    end
    self.rest[e.dir] = nil
    if r.rec then M.finish(r.rec, out, e.ts) end
    return r.bytes + 1
  end
  -- a chunked body's last chunk, where this call was captured whole
  if r.chunked and #data >= e.len and data:sub(-5) == "0\r\n\r\n" then
    self.rest[e.dir] = nil
    if r.rec then M.finish(r.rec, out, e.ts) end
  end
  return nil
end

-- Every message in a payload: pipelined requests come in one call, and
-- their responses may share one too.
function Conn:http1(e, data, out)
  local pos = 1
  if self.rest[e.dir] then pos = self:http1_rest(e, data, out) end
  while pos and pos <= #data do
    pos = self:http1_message(e, data, pos, out)
  end
end

-- HTTP/2 ---------------------------------------------------------------------

-- One direction of an HTTP/2 connection: a frame parser fed with bytes and
-- holes. A frame's payload is kept only as far as it is read (header
-- blocks, SETTINGS, a DATA frame's pad length), in chunks joined once.
local function new_side()
  return { head = "", frame = nil, broken = false, block = nil,
           decoder = hpack.decoder({ limit = hpack.DEFAULT_TABLE_SIZE, max_list = M.LIMITS.header_list }) }
end

function Conn:h2_start(dir)
  if not self.h2 then
    self.h2 = { c2s = dir, [SEND] = new_side(), [RECV] = new_side(), streams = {}, open = 0, seq = 0 }
  end
end

-- The direction is out of step (a capture hole, a header block lost): it
-- is read no further, and holds nothing.
function Conn:h2_break(dir)
  local s = self.h2[dir]
  s.broken, s.frame, s.block, s.decoder, s.head = true, nil, nil, nil, ""
end

function Conn:h2_open_stream(id, st)
  local h2 = self.h2
  if not h2.streams[id] then
    if h2.open >= M.LIMITS.streams then
      local oldest, seq
      for sid, o in pairs(h2.streams) do
        if not seq or o.seq < seq then oldest, seq = sid, o.seq end
      end
      h2.streams[oldest] = nil
      h2.open = h2.open - 1
      self.stats.evicted_streams = self.stats.evicted_streams + 1
    end
    h2.open = h2.open + 1
  end
  h2.seq = h2.seq + 1
  st.seq = h2.seq
  h2.streams[id] = st
end

function Conn:h2_close_stream(id)
  local h2 = self.h2
  local st = h2.streams[id]
  if st then
    h2.streams[id] = nil
    h2.open = h2.open - 1
  end
  return st
end

function Conn:h2_headers(dir, b, ts, out)
  local block = table.concat(b.chunks)
  local headers, why = self.h2[dir].decoder:decode(block)
  if not headers then
    self:bad(why)
    self:h2_break(dir) -- the dynamic table is out of step from here on
    return
  end
  if why then self:bad(why) end
  if b.push then return end -- read for the dynamic table only
  local h = {}
  for _, kv in ipairs(headers) do h[kv[1]] = kv[2] end
  if dir == self.h2.c2s then
    if h[":method"] then
      local path = h[":path"] and h[":path"]:sub(1, M.LIMITS.field)
      self:h2_open_stream(b.stream, { method = h[":method"]:sub(1, M.LIMITS.field), path = path, ts = ts,
                                      grpc = (h["content-type"] or ""):find("^application/grpc") ~= nil })
    end
  else
    local st = self.h2.streams[b.stream]
    if st then
      st.first = st.first or ts -- the response's first HEADERS
      st.status = tonumber(h[":status"]) or st.status
      st.grpc_status = tonumber(h["grpc-status"]) or st.grpc_status
      if b.flags & END_STREAM ~= 0 then self:h2_done(b.stream, ts, out) end
    end
  end
end

function Conn:h2_done(stream_id, ts, out)
  local st = self:h2_close_stream(stream_id)
  if not st then return end
  -- latency to the response's first HEADERS, total to its END_STREAM
  out[#out + 1] = { method = st.method, path = st.path, status = st.status, grpc_status = st.grpc_status,
                    protocol = st.grpc and "grpc" or "h2c", latency_ms = ((st.first or ts) - st.ts) / 1e6,
                    total_ms = (ts - st.ts) / 1e6, start_ts = st.ts, end_ts = ts,
                    side = self.h2.c2s == SEND and "client" or "server" }
end

-- A header block's first fragment (HEADERS, PUSH_PROMISE): where it starts
-- and ends in the payload once padding and priority are stepped over, or
-- nil when they do not fit the frame.
local function fragment_bounds(f, payload, extra)
  local pos, stop = 1, #payload
  if f.flags & PADDED ~= 0 then
    if stop < 1 then return nil end
    stop = stop - payload:byte(1)
    pos = 2
  end
  pos = pos + extra
  if pos - 1 > stop then return nil end
  return pos, stop
end

function Conn:h2_block_part(dir, b, fragment, ts, out)
  local s = self.h2[dir]
  b.chunks[#b.chunks + 1] = fragment
  b.size = b.size + #fragment
  if b.size > M.LIMITS.header_block then
    self:bad("header block too large")
    self:h2_break(dir)
  elseif b.end_headers then
    s.block = nil
    self:h2_headers(dir, b, ts, out)
  else
    s.block = b
  end
end

function Conn:h2_frame(dir, f, ts, out)
  local s = self.h2[dir]
  local payload = f.kept > 0 and table.concat(f.chunks) or ""
  if s.block and (f.type ~= CONTINUATION or f.stream ~= s.block.stream) then
    -- RFC 7540 6.10: a header block is CONTINUATION frames up to its end
    self:bad("frame inside a header block")
    s.block = nil
    if f.type == CONTINUATION then return end
  end
  local t = f.type
  if t == HEADERS or t == PUSH_PROMISE then
    if f.stream == 0 then return self:bad("header block on stream 0") end
    local extra = t == PUSH_PROMISE and 4 or (f.flags & PRIORITY ~= 0 and 5 or 0)
    local pos, stop = fragment_bounds(f, payload, extra)
    if not pos then return self:bad("padding past the frame's end") end
    self:h2_block_part(dir, { stream = f.stream, flags = f.flags, push = t == PUSH_PROMISE, chunks = {}, size = 0,
                              end_headers = f.flags & END_HEADERS ~= 0 }, payload:sub(pos, stop), ts, out)
  elseif t == CONTINUATION then
    local b = s.block
    if not b then return self:bad("CONTINUATION without a header block") end
    b.end_headers = f.flags & END_HEADERS ~= 0
    self:h2_block_part(dir, b, payload, ts, out)
  elseif t == SETTINGS then
    if f.stream ~= 0 or (f.flags & ACK ~= 0 and f.len > 0) or f.len % 6 ~= 0 then
      return self:bad("bad SETTINGS frame")
    end
    -- the sender's decoder allows this much: the other direction's encoder
    -- may grow its table up to it
    local peer = self.h2[1 - dir]
    for i = 1, #payload - 5, 6 do
      local id, value = string.unpack(">I2I4", payload, i)
      if id == SETTINGS_HEADER_TABLE_SIZE and peer.decoder then
        peer.decoder:set_limit(math.min(value, M.LIMITS.table_size))
      end
    end
  elseif t == RST_STREAM then
    if f.stream == 0 or f.len ~= 4 then return self:bad("bad RST_STREAM frame") end
    self:h2_close_stream(f.stream)
  elseif t == DATA then
    if f.stream == 0 then return self:bad("DATA on stream 0") end
    if f.flags & PADDED ~= 0 and not f.partial and (f.len < 1 or payload:byte(1) >= f.len) then
      return self:bad("padding past the frame's end")
    end
    if f.flags & END_STREAM ~= 0 and dir ~= self.h2.c2s then self:h2_done(f.stream, ts, out) end
  end
  -- PRIORITY, PING, GOAWAY, WINDOW_UPDATE and unknown types: nothing to read
end

-- How much of a frame's payload to keep: all of a header block (nil when
-- it is too large), the start of the rest that is read at all.
local function keep_of(ftype, len)
  if ftype == HEADERS or ftype == CONTINUATION or ftype == PUSH_PROMISE then
    if len > M.LIMITS.header_block then return nil end
    return len
  elseif ftype == SETTINGS then
    return math.min(len, M.LIMITS.settings)
  elseif ftype == DATA then
    return math.min(len, 1)
  end
  return 0
end

-- Feeds captured bytes, then a hole of `missing` bytes, to one direction.
function Conn:h2_feed(dir, data, missing, ts, out)
  local s = self.h2[dir]
  local pos, n = 1, #data
  while not s.broken do
    if not s.frame then
      local take = math.min(9 - #s.head, n - pos + 1)
      if take > 0 then
        s.head = s.head .. data:sub(pos, pos + take - 1)
        pos = pos + take
      end
      if #s.head < 9 then break end
      local len, ftype, flags, stream = string.unpack(">I3BBI4", s.head)
      local keep = keep_of(ftype, len)
      if not keep then
        -- a header block the limit refuses: the dynamic table is lost with it
        self:bad("header block too large")
        self:h2_break(dir)
        break
      end
      s.frame = { len = len, type = ftype, flags = flags, stream = stream & 0x7fffffff, left = len,
                  keep = keep, kept = 0, chunks = {} }
      s.head = ""
    end
    local f = s.frame
    local take = math.min(f.left, n - pos + 1)
    if take > 0 then
      local k = math.min(take, f.keep - f.kept)
      if k > 0 then
        f.chunks[#f.chunks + 1] = data:sub(pos, pos + k - 1)
        f.kept = f.kept + k
      end
      pos, f.left = pos + take, f.left - take
    end
    if f.left > 0 then break end
    s.frame = nil
    self:h2_frame(dir, f, ts, out)
  end
  if missing <= 0 or s.broken then return end
  -- the part of the call's bytes that was not captured
  local f = s.frame
  if not f or f.type == HEADERS or f.type == CONTINUATION or f.type == PUSH_PROMISE then
    self:h2_break(dir) -- a frame header or a header block is lost
    return
  end
  -- the rest of a frame whose payload does not matter
  f.partial = f.kept < f.keep
  f.keep = f.kept
  local rest = f.left
  f.left = math.max(0, rest - missing)
  if f.left == 0 then
    s.frame = nil
    self:h2_frame(dir, f, ts, out)
  end
  -- frames wholly inside the hole are lost: the stream is out of step
  if missing > rest and not s.broken then self:h2_break(dir) end
end

-- The connections of one trace, by socket. Past LIMITS.connections (their
-- closes were lost), any one goes: all that is known of a connection is
-- that it is open.
local Conns = {}
Conns.__index = Conns

function M.conns(stats)
  return setmetatable({ by_sk = {}, n = 0, stats = stats or M.stats() }, Conns)
end

-- The connection of socket sk, new if need be.
function Conns:get(sk)
  local c = self.by_sk[sk]
  if c then return c end
  if self.n >= M.LIMITS.connections then
    self.by_sk[next(self.by_sk)] = nil
    self.n = self.n - 1
    self.stats.evicted_connections = self.stats.evicted_connections + 1
  end
  c = M.conn(self.stats)
  self.by_sk[sk] = c
  self.n = self.n + 1
  return c
end

-- Returns the records that waited for the close: a response that ran to
-- it ends at ts; one still expecting body bytes ends unseen.
function Conns:close(sk, ts)
  local c, out = self.by_sk[sk], {}
  if c then
    self.by_sk[sk] = nil
    self.n = self.n - 1
    for _, r in pairs(c.rest) do
      if r.rec then M.finish(r.rec, out, r.close and ts or nil) end
    end
  end
  return out
end

-- e: { ts, dir, len, caplen, data }. Returns the finished exchanges.
function Conn:feed(e)
  local out = {}
  if e.dir ~= SEND and e.dir ~= RECV then return out end
  -- a reader with cut = { data = "caplen" } gives the captured bytes alone
  local data = e.data
  if #data > e.caplen then data = data:sub(1, math.max(0, e.caplen)) end
  local missing = math.max(0, e.len - #data)
  if not self.h2 and data:byte(1) == 0x50 and data:sub(1, #PREFACE) == PREFACE then -- "P"
    self:h2_start(e.dir)
    data = data:sub(#PREFACE + 1)
  end
  if self.h2 then
    self:h2_feed(e.dir, data, missing, e.ts, out)
  else
    self:http1(e, data, out)
  end
  return out
end

return M
