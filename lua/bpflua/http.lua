-- Requests and responses from captured socket payloads, per connection:
-- HTTP/1.x request and status lines, and HTTP/2 (h2c, gRPC) frames with
-- their HPACK-coded HEADERS. Each payload comes with the number of bytes
-- the call really moved; what was not captured is a hole the frame parser
-- steps over, so it stays in step with the stream.
local hpack = require("bpflua.hpack")

local M = {}

local PREFACE = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
local SEND, RECV = 0, 1
local DATA, HEADERS, CONTINUATION = 0, 1, 9
local END_STREAM, END_HEADERS, PADDED, PRIORITY = 0x1, 0x4, 0x8, 0x20

local Conn = {}
Conn.__index = Conn

function M.conn()
  return setmetatable({ queue = {}, h2 = nil }, Conn)
end

-- HTTP/1: a request line from one side, a status line from the other
function Conn:http1(e, data, out)
  local method, path, version = data:match("^(%u+) (%S+) (HTTP/1%.%d)\r?\n")
  if method then
    self.queue[#self.queue + 1] = { method = method, path = path, protocol = version, ts = e.ts, dir = e.dir }
    return
  end
  local status = data:match("^HTTP/1%.%d (%d%d%d)")
  if status then
    for i, r in ipairs(self.queue) do
      if r.dir ~= e.dir then
        table.remove(self.queue, i)
        out[#out + 1] = { method = r.method, path = r.path, status = tonumber(status), protocol = r.protocol,
                          latency_ms = (e.ts - r.ts) / 1e6, side = r.dir == SEND and "client" or "server" }
        return
      end
    end
  end
end

-- One direction of an HTTP/2 connection: a frame parser fed with bytes
-- and holes.
local function new_stream()
  return { buf = "", need = 9, frame = nil, skip = 0, broken = false, decoder = hpack.decoder(), block = nil }
end

function Conn:h2_start(dir)
  if not self.h2 then
    self.h2 = { c2s = dir, [SEND] = new_stream(), [RECV] = new_stream(), streams = {} }
  end
end

function Conn:h2_headers(dir, stream_id, flags, block, ts, out)
  local s = self.h2[dir]
  local headers = s.decoder:decode(block)
  if not headers then
    s.broken = true -- the dynamic table is out of step from here on
    return
  end
  local h = {}
  for _, kv in ipairs(headers) do h[kv[1]] = kv[2] end
  local st = self.h2.streams[stream_id]
  if dir == self.h2.c2s then
    if h[":method"] then
      st = { method = h[":method"], path = h[":path"], ts = ts,
             grpc = (h["content-type"] or ""):find("^application/grpc") ~= nil }
      self.h2.streams[stream_id] = st
    end
  elseif st then
    st.status = tonumber(h[":status"]) or st.status
    st.grpc_status = tonumber(h["grpc-status"]) or st.grpc_status
    if flags & END_STREAM ~= 0 then self:h2_done(stream_id, ts, out) end
  end
end

function Conn:h2_done(stream_id, ts, out)
  local st = self.h2.streams[stream_id]
  if not st then return end
  self.h2.streams[stream_id] = nil
  out[#out + 1] = { method = st.method, path = st.path, status = st.status, grpc_status = st.grpc_status,
                    protocol = st.grpc and "grpc" or "h2c", latency_ms = (ts - st.ts) / 1e6,
                    side = self.h2.c2s == SEND and "client" or "server" }
end

function Conn:h2_frame(dir, f, ts, out)
  local payload = f.payload
  if f.type == HEADERS then
    local pos, stop = 1, #payload
    if f.flags & PADDED ~= 0 then
      stop = stop - payload:byte(1)
      pos = 2
    end
    if f.flags & PRIORITY ~= 0 then pos = pos + 5 end
    local fragment = payload:sub(pos, stop)
    if f.flags & END_HEADERS ~= 0 then
      self:h2_headers(dir, f.stream, f.flags, fragment, ts, out)
    else
      self.h2[dir].block = { stream = f.stream, flags = f.flags, data = fragment }
    end
  elseif f.type == CONTINUATION then
    local b = self.h2[dir].block
    if b then
      b.data = b.data .. payload
      if f.flags & END_HEADERS ~= 0 then
        self.h2[dir].block = nil
        self:h2_headers(dir, b.stream, b.flags, b.data, ts, out)
      end
    end
  elseif f.type == DATA and f.flags & END_STREAM ~= 0 and dir ~= self.h2.c2s then
    self:h2_done(f.stream, ts, out)
  end
end

-- Feeds captured bytes, then a hole of `missing` bytes, to one direction.
function Conn:h2_feed(dir, data, missing, ts, out)
  local s = self.h2[dir]
  if s.broken then return end
  local pos = 1
  while true do
    if s.skip > 0 then
      local n = math.min(s.skip, #data - pos + 1)
      pos, s.skip = pos + n, s.skip - n
      if s.skip > 0 then break end
    end
    if not s.frame then
      local have = #s.buf
      local take = math.min(9 - have, #data - pos + 1)
      s.buf = s.buf .. data:sub(pos, pos + take - 1)
      pos = pos + take
      if #s.buf < 9 then break end
      local len = (s.buf:byte(1) << 16) | (s.buf:byte(2) << 8) | s.buf:byte(3)
      s.frame = { len = len, type = s.buf:byte(4), flags = s.buf:byte(5),
                  stream = ((s.buf:byte(6) << 24) | (s.buf:byte(7) << 16) | (s.buf:byte(8) << 8) | s.buf:byte(9)) & 0x7fffffff,
                  payload = "" }
      s.buf = ""
    end
    local f = s.frame
    local take = math.min(f.len - #f.payload, #data - pos + 1)
    f.payload = f.payload .. data:sub(pos, pos + take - 1)
    pos = pos + take
    if #f.payload < f.len then break end
    s.frame = nil
    self:h2_frame(dir, f, ts, out)
  end
  -- the part of the call's bytes that was not captured
  if missing > 0 then
    if s.frame and s.frame.type ~= HEADERS and s.frame.type ~= CONTINUATION
        and s.frame.len - #s.frame.payload >= missing then
      -- a DATA frame's body: only its length matters
      local f = s.frame
      f.payload = f.payload .. string.rep("\0", missing)
      if #f.payload == f.len then
        s.frame = nil
        self:h2_frame(dir, f, ts, out)
      end
    elseif s.frame and s.frame.type ~= HEADERS and s.frame.type ~= CONTINUATION then
      local f = s.frame
      local rest = f.len - #f.payload
      s.frame = nil
      self:h2_frame(dir, { type = f.type, flags = f.flags, stream = f.stream, payload = "" }, ts, out)
      s.skip = 0
      -- frames wholly inside the hole are lost: the stream is out of step
      if missing > rest then s.broken = true end
    else
      s.broken = true
    end
  end
end

-- e: { ts, dir, len, caplen, data }. Returns the finished exchanges.
function Conn:feed(e)
  local out = {}
  local data = e.data:sub(1, e.caplen)
  local missing = e.len - e.caplen
  if not self.h2 and data:sub(1, #PREFACE) == PREFACE then
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
