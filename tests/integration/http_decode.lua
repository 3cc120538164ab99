-- The HTTP decoders fed hostile and pipelined payloads directly: malformed
-- frames are counted and skipped, every per-connection state is bounded,
-- and what follows a bad frame is still read.
local t = dofile(arg[0]:match("(.*/)") .. "lib.lua")
local http = require("bpflua.http")
local hpack = require("bpflua.hpack")

local SEND, RECV = 0, 1
local PREFACE = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
local clock = 0

local function frame(ftype, flags, stream, payload)
  return string.pack(">I3BBI4", #payload, ftype, flags, stream) .. payload
end
local function lit(name, value) -- literal field, no indexing, plain strings
  return "\0" .. string.char(#name) .. name .. string.char(#value) .. value
end
local function ev(dir, data, len)
  clock = clock + 1000000
  return { ts = clock, dir = dir, len = len or #data, caplen = #data, data = data }
end
local function feed(c, dir, data, len)
  return c:feed(ev(dir, data, len))
end

-- 1. The issue's 33 bytes: the preface and an empty HEADERS frame with
-- PADDED set. The frame is counted and skipped; the connection goes on.
do
  local hostile = PREFACE .. frame(1, 0x8, 1, "")
  t.eq(#hostile, 33, "the hostile payload's size")
  local c0 = http.conn()
  local ok, out = pcall(c0.feed, c0, ev(SEND, hostile))
  t.ok(ok, "33 bytes raise no error: " .. tostring(out))
  t.eq(#out, 0, "no record from the hostile frame")
  local stats = http.stats()
  local c = http.conn(stats)
  feed(c, SEND, hostile)
  t.eq(stats.malformed, 1, "the hostile frame is counted")
  t.eq(stats.why["padding past the frame's end"], 1, "and why")
  -- pad length past the payload, and PRIORITY past the payload
  feed(c, SEND, frame(1, 0xc, 3, "\9abc"))
  feed(c, SEND, frame(1, 0x24, 3, "\0\0"))
  t.eq(stats.malformed, 3, "padding and priority past the payload")
  -- the request that follows on the same connection is read
  feed(c, SEND, frame(1, 0x5, 5, "\x82\x86\x04\6/after"))
  local rec = feed(c, RECV, frame(4, 0, 0, "") .. frame(1, 0x5, 5, "\x88"))
  t.eq(#rec, 1, "the request after the hostile frames is reported")
  t.eq(rec[1].method .. " " .. rec[1].path .. " " .. rec[1].status, "GET /after 200", "its method, path and status")
  t.eq(c.h2.open, 0, "and its stream closed")
  t.eq(stats.malformed, 3, "nothing more is malformed")
end

-- 2. HPACK dynamic table size updates: up to SETTINGS, never above it, and
-- never above the hard limit whatever SETTINGS says.
do
  local d = hpack.decoder({ limit = 4096 })
  t.ok(d:decode("\x3f\xe1\x1f"), "a size update to 4096 is allowed")
  local ok, why = d:decode("\x3f\xe1\x3f") -- 8192
  t.ok(not ok and why == "size update above the limit", "a size update past 4096 is refused: " .. tostring(why))
  ok, why = d:decode("\x82\x3f\xe1\x1f")
  t.ok(not ok and why == "size update after a field", "a size update after a field is refused")

  local stats = http.stats()
  local c = http.conn(stats)
  local settings = frame(4, 0, 0, string.pack(">I2I4", 1, 8192))
  feed(c, SEND, PREFACE)
  feed(c, RECV, settings)
  feed(c, SEND, frame(1, 0x5, 1, "\x3f\xe1\x3f\x82\x86\x84"))
  t.eq(stats.malformed, 0, "after SETTINGS 8192, an update to 8192 is fine")
  t.eq(c.h2[SEND].decoder.max, 8192, "and the table may grow to it")
  feed(c, RECV, frame(4, 0, 0, string.pack(">I2I4", 1, 1 << 30)))
  feed(c, SEND, frame(1, 0x5, 3, "\x3f\xe1\xff\x3f\x82")) -- 1 MiB + 4064
  t.eq(stats.why["size update above the limit"], 1, "SETTINGS cannot lift the table past the hard limit")
  t.ok(c.h2[SEND].broken and not c.h2[SEND].decoder, "the direction is out of step, and holds nothing")
end

-- 3. Unanswered HTTP/1 requests: the oldest go past LIMITS.pending.
do
  local stats = http.stats()
  local c = http.conn(stats)
  local n = http.LIMITS.pending + 36
  for i = 1, n do feed(c, SEND, "GET /r" .. i .. " HTTP/1.1\r\nHost: x\r\n\r\n") end
  local got = {}
  for _ = 1, n do
    for _, r in ipairs(feed(c, RECV, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")) do got[#got + 1] = r.path end
  end
  t.eq(#got, http.LIMITS.pending, "a response for each request kept")
  t.eq(got[1], "/r37", "the oldest were evicted")
  t.eq(stats.evicted_requests, 36, "and counted")
end

-- 4. Open HTTP/2 streams: the oldest go past LIMITS.streams.
do
  local stats = http.stats()
  local c = http.conn(stats)
  local n = http.LIMITS.streams + 72
  feed(c, SEND, PREFACE)
  for i = 1, n do feed(c, SEND, frame(1, 0x5, 2 * i - 1, "\x82\x86\x84")) end
  t.eq(c.h2.open, http.LIMITS.streams, "open streams stay at the limit")
  t.eq(stats.evicted_streams, 72, "the rest evicted, and counted")
  local done = 0
  for i = 1, n do done = done + #feed(c, RECV, frame(1, 0x5, 2 * i - 1, "\x88")) end
  t.eq(done, http.LIMITS.streams, "the streams kept are answered")
  t.eq(c.h2.open, 0, "and closed")
  -- a path as long as a header list may be is kept only so far
  local long = string.rep("/", 60000)
  local n, len = #long - 127, "\x7f" -- an HPACK integer with a 7-bit prefix
  while n >= 128 do
    len, n = len .. string.char(0x80 | (n & 0x7f)), n >> 7
  end
  feed(c, SEND, frame(1, 0x5, 1001, "\x82\x86\x04" .. len .. string.char(n) .. long))
  local r = feed(c, RECV, frame(1, 0x5, 1001, "\x88"))
  t.eq(#r, 1, "a request with a 60000-byte path")
  t.eq(#r[1].path, http.LIMITS.field, "its path is cut")
end

-- 5. A large DATA frame in many payloads: nothing of it is kept, and each
-- payload costs the same (the old parser kept the frame, copying it whole
-- for every payload).
do
  local stats = http.stats()
  local c = http.conn(stats)
  feed(c, SEND, PREFACE .. frame(1, 0x4, 1, "\x83\x86\x84"))
  local size, piece = 1 << 20, string.rep("x", 1023)
  feed(c, SEND, string.pack(">I3BBI4", size, 0, 0x1, 1))
  collectgarbage("collect")
  local before = collectgarbage("count")
  local sent = 0
  while sent + #piece < size do
    feed(c, SEND, piece)
    sent = sent + #piece
  end
  collectgarbage("collect")
  local grown = collectgarbage("count") - before
  t.ok(grown < 64, string.format("a 1 MiB DATA frame is not buffered (%.0f KiB held)", grown))
  feed(c, SEND, string.rep("x", size - sent))
  t.eq(c.h2[SEND].frame, nil, "the frame ends where its length says")
  -- a hole inside a DATA frame is stepped over
  feed(c, SEND, string.pack(">I3BBI4", 5000, 0, 0, 1) .. "abc", 5009)
  feed(c, SEND, frame(1, 0x5, 3, "\x82\x86\x84"))
  t.eq(c.h2.open, 2, "the frame after a hole inside a DATA frame is read")
  t.eq(stats.malformed, 0, "none of it is malformed")
end

-- 6. Header block abuse: CONTINUATION out of place, a block past the limit.
do
  local stats = http.stats()
  local c = http.conn(stats)
  feed(c, SEND, PREFACE .. frame(9, 0x4, 1, "\x82"))
  t.eq(stats.why["CONTINUATION without a header block"], 1, "CONTINUATION without HEADERS")
  feed(c, SEND, frame(1, 0, 1, "\x82") .. frame(0, 0, 1, "") .. frame(9, 0x4, 1, "\x86\x84"))
  t.eq(stats.why["frame inside a header block"], 1, "a DATA frame inside a header block")
  t.eq(c.h2.open, 0, "the broken block opens no stream")
  feed(c, SEND, frame(1, 0, 3, "\x82"))
  local chunk = frame(9, 0, 3, string.rep("\x82", 16000))
  for _ = 1, 5 do feed(c, SEND, chunk) end
  t.eq(stats.why["header block too large"], 1, "CONTINUATION past the header block limit")
  t.ok(c.h2[SEND].broken, "ends reading the direction")
  local c2 = http.conn(stats)
  feed(c2, SEND, PREFACE .. string.pack(">I3BBI4", http.LIMITS.header_block + 1, 1, 0x4, 1))
  t.eq(stats.why["header block too large"], 2, "a HEADERS frame past the limit, before its payload")
  t.ok(c2.h2[SEND].broken and not c2.h2[SEND].frame, "and nothing of it is kept")
  -- a bad Huffman string, a bad index
  local c3 = http.conn(stats)
  feed(c3, SEND, PREFACE .. frame(1, 0x5, 1, "\x82\x04\x82\xff\xff"))
  t.eq(stats.why["bad value"], 1, "a bad Huffman string")
  local c4 = http.conn(stats)
  feed(c4, SEND, PREFACE .. frame(1, 0x5, 1, "\xff\xff\xff\xff\xff\x0f"))
  t.eq(stats.why["bad index"], 1, "a bad index")
end

-- 7. HTTP/1 pipelining: three requests in one call, their responses in
-- one call, each counted.
do
  local stats = http.stats()
  local c = http.conn(stats)
  local reqs = "GET /a HTTP/1.1\r\nHost: x\r\n\r\n" .. "HEAD /b HTTP/1.1\r\nHost: x\r\n\r\n"
    .. "POST /c HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
  t.eq(#feed(c, SEND, reqs), 0, "requests alone are no record")
  local resps = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc"
    .. "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" -- HEAD: no body
    .. "HTTP/1.1 100 Continue\r\n\r\n"
    .. "HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
  local out = feed(c, RECV, resps)
  local got = {}
  for i, r in ipairs(out) do got[i] = r.method .. " " .. r.path .. " " .. r.status end
  t.eq(table.concat(got, ", "), "GET /a 200, HEAD /b 200, POST /c 404", "three pipelined exchanges")
  t.eq(stats.malformed, 0, "none malformed")
  feed(c, SEND, "GET /x HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n")
  feed(c, SEND, "GET \1\2\3\r\n")
  t.eq(stats.malformed, 2, "conflicting lengths and a bad start line are malformed")
end
-- 8. Connections whose close was never seen: past LIMITS.connections,
-- one goes for each new one.
do
  local stats = http.stats()
  local conns = http.conns(stats)
  local limit = http.LIMITS.connections
  http.LIMITS.connections = 4
  for sk = 1, 6 do conns:get(sk) end
  http.LIMITS.connections = limit
  t.eq(conns.n, 4, "connections stay at the limit")
  t.eq(stats.evicted_connections, 2, "the rest evicted, and counted")
  local c = conns:get(6)
  t.ok(c == conns:get(6), "a connection is found again by its socket")
  conns:close(6)
  conns:close(6)
  t.eq(conns.n, 3, "closed once, however often its close comes")
end
-- 9. The time to a response's last byte: a body past its capture (the call
-- moved more than was captured), a body in later calls, a chunked body in
-- later calls, a body that runs to the close, a request body in two calls.
do
  local stats = http.stats()
  local conns = http.conns(stats)
  local c = conns:get(9)
  local function one(out) t.eq(#out, 1, "one record"); return out[1] or {} end
  -- a length, the whole body moved by the first call (only its head captured)
  feed(c, SEND, "GET /whole HTTP/1.1\r\n\r\n")
  local head = "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n"
  local r = one(feed(c, RECV, head .. "ab", #head + 1000))
  t.eq(r.total_ms, r.latency_ms, "a body moved in one call ends with it")
  -- a length over three calls: the record waits for the last byte
  feed(c, SEND, "GET /later HTTP/1.1\r\n\r\n")
  t.eq(#feed(c, RECV, "HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n"), 0, "no record before the body")
  t.eq(#feed(c, RECV, "xx", 3000), 0, "nor in the middle of it")
  r = one(feed(c, RECV, "yy", 2000))
  t.eq(r.path, "/later", "the record comes with the body's last call")
  t.eq(r.latency_ms, 1, "latency: to the first response byte (1 ms after the request)")
  t.eq(r.total_ms, 3, "total: to the last byte (3 ms after the request)")
  -- what follows a body in the same call is read: a pipelined response
  feed(c, SEND, "GET /p1 HTTP/1.1\r\n\r\nGET /p2 HTTP/1.1\r\n\r\n")
  t.eq(#feed(c, RECV, "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nab"), 0, "/p1's body continues")
  local out = feed(c, RECV, "cdHTTP/1.1 204 No Content\r\n\r\n")
  t.eq(#out, 2, "/p1 ends, /p2 follows in the same call")
  t.eq((out[1] or {}).path, "/p1", "first /p1")
  t.eq((out[2] or {}).path, "/p2", "then /p2")
  -- chunked over later calls, seen whole at the end
  feed(c, SEND, "GET /chunked HTTP/1.1\r\n\r\n")
  t.eq(#feed(c, RECV, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n"), 0,
       "a chunked body in progress")
  t.eq(#feed(c, RECV, "400\r\n" .. string.rep("z", 16), 1030), 0, "a chunk, captured in part")
  r = one(feed(c, RECV, "\r\n0\r\n\r\n"))
  t.eq(r.total_ms, 3, "chunked: total to the last chunk")
  -- a response without a length runs to the close
  feed(c, SEND, "GET /close HTTP/1.1\r\n\r\n")
  t.eq(#feed(c, RECV, "HTTP/1.0 200 OK\r\n\r\nsome"), 0, "a body to the close")
  clock = clock + 5000000
  r = one(conns:close(9, clock))
  t.eq(r.path, "/close", "the close gives the record")
  t.eq(r.total_ms, 6, "total: to the close")
  -- a body's call lost on the way: the next response starts over
  c = conns:get(11)
  feed(c, SEND, "GET /lost HTTP/1.1\r\n\r\n")
  t.eq(#feed(c, RECV, "HTTP/1.1 200 OK\r\nContent-Length: 9000\r\n\r\n"), 0, "a body to come")
  feed(c, SEND, "GET /next HTTP/1.1\r\n\r\n")
  out = feed(c, RECV, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
  t.eq(#out, 2, "the lost body's record (no total) and the next response")
  t.eq((out[1] or {}).total_ms, nil, "/lost: its end was not seen")
  t.eq((out[2] or {}).status, 404, "/next read")
  -- a request body in two calls is no start line
  local c2 = conns:get(10)
  feed(c2, SEND, "POST /up HTTP/1.1\r\nContent-Length: 10\r\n\r\n12345")
  feed(c2, SEND, "67890")
  t.eq(#feed(c2, RECV, "HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n"), 1, "the upload's response")
  t.eq(stats.malformed, 0, "none malformed")
end
t.done("http_decode")
