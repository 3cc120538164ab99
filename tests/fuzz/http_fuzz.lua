-- A deterministic mutation fuzzer for the HTTP decoders (HTTP/1, HTTP/2
-- frames, HPACK): what any local process sends reaches them, so no input
-- may raise, and what they hold must stay bounded however long they run.
--
--   bpflua http_fuzz.lua [INPUTS [SEED]]
--
-- Seeds: real captures (seeds.txt, written by capture.py: gRPC, curl over
-- h2c, pipelined HTTP/1.1) and the RFC 7541 examples framed as a
-- conversation. Each input is a seed conversation, mutated (bit flips,
-- bytes set, inserted, deleted, spliced from another seed, frame lengths,
-- flags and types, HTTP/1 lengths, HPACK integers, chunks dropped,
-- doubled, swapped, repeated up to 300 times on new streams) and cut into
-- payloads at random points, some with a capture hole as the kernel
-- leaves one, fed to a fresh connection, and now and then to a long-lived
-- one too. HPACK blocks are also fed to a
-- decoder on their own. Exits 1 when an error escapes, memory grows or
-- the run takes too long.
local here = arg[0]:match("(.*/)") or "./"
local http = require("bpflua.http")
local hpack = require("bpflua.hpack")

local INPUTS = math.tointeger(tonumber(arg[1])) or 100000
local SEED = math.tointeger(tonumber(arg[2])) or 0x5eed5eed
local TIME_LIMIT = 120        -- seconds, for the default count, sanitizers included
local MEM_LIMIT_KB = 32768    -- the Lua heap after a full collection
local MEM_GROWTH_KB = 2048    -- between the first checkpoint and the last
local CAP = 1023              -- bytes of a call the probe captures (CAP - 1 in probes/http.c)

-- xorshift64: the same inputs on every machine and Lua build
local state = SEED ~ 0x2545f4914f6cdd1d
local function rand(n) -- 1..n
  state = state ~ (state << 13)
  state = state ~ (state >> 7)
  state = state ~ (state << 17)
  return (state >> 1) % n + 1
end
local function pick(list) return list[rand(#list)] end

local function unhex(s)
  return (s:gsub("%s", ""):gsub("..", function(h) return string.char(tonumber(h, 16)) end))
end
local function hex(s) return (s:gsub(".", function(c) return string.format("%02x", c:byte()) end)) end

local PREFACE = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
local SEND, RECV = 0, 1
local function frame(ftype, flags, stream, payload)
  return string.pack(">I3BBI4", #payload, ftype, flags, stream) .. payload
end

-- Seeds -----------------------------------------------------------------------

local seeds = {}
do
  local cur
  for line in io.lines(here .. "seeds.txt") do
    local name = line:match("^# (.*)")
    if name then
      cur = { name = name }
      seeds[#seeds + 1] = cur
    else
      local mark, h = line:match("^([<>]) (%x+)$")
      assert(mark and cur, "seeds.txt: bad line " .. line)
      cur[#cur + 1] = { dir = mark == ">" and SEND or RECV, data = unhex(h) }
    end
  end
end

-- RFC 7541 Appendix C: header blocks, in the order one decoder reads them
local RFC = {
  C2 = { "400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572", "040c 2f73 616d 706c 652f 7061 7468",
         "1008 7061 7373 776f 7264 0673 6563 7265 74", "82" },
  C3 = { "8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d", "8286 84be 5808 6e6f 2d63 6163 6865",
         "8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65" },
  C4 = { "8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff", "8286 84be 5886 a8eb 1064 9cbf",
         "8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf" },
  C5 = { "4803 3330 3258 0770 7269 7661 7465 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 "
         .. "3120 474d 546e 1768 7474 7073 3a2f 2f77 7777 2e65 7861 6d70 6c65 2e63 6f6d", "4803 3330 37c1 c0bf" },
  C6 = { "4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6 2d1b ff6e 919d 29ad "
         .. "1718 63c7 8f0b 97c8 e9ae 82ae 43d3", "4883 640e ffc1 c0bf",
         "88c1 6196 d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff c05a 839b d9ab 77ad 94e7 821d d7f2 "
         .. "e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f 9587 3160 65c0 03ed 4ee5 b106 3d50 07" },
}
local HPACK_SEQS = { { size = 4096 }, { size = 4096 }, { size = 4096 }, { size = 256 }, { size = 256 } }
for i, k in ipairs({ "C2", "C3", "C4", "C5", "C6" }) do
  for j, h in ipairs(RFC[k]) do HPACK_SEQS[i][j] = unhex(h) end
end

-- the RFC's requests (C.4, Huffman) and responses (C.6, a 256-byte table
-- the client asks for) as an h2c conversation, with padding, priority,
-- CONTINUATION, gRPC-style DATA and the frames nobody reads
do
  local c4, c6 = HPACK_SEQS[3], HPACK_SEQS[5]
  local settings256 = frame(4, 0, 0, string.pack(">I2I4I2I4", 1, 256, 4, 65535))
  seeds[#seeds + 1] = { name = "RFC 7541 C.4 and C.6 over h2c",
    { dir = SEND, data = PREFACE .. settings256 .. frame(1, 0x5, 1, c4[1]) },
    { dir = RECV, data = frame(4, 0, 0, "") .. frame(4, 0x1, 0, "") .. frame(1, 0x4, 1, "\x3f\xe1\x01" .. c6[1])
                         .. frame(0, 0x9, 1, "\4hello\0\0\0\0") },
    { dir = SEND, data = frame(4, 0x1, 0, "") .. frame(8, 0, 0, "\0\0\1\0") .. frame(1, 0x5, 3, c4[2]) },
    { dir = RECV, data = frame(1, 0x5, 3, c6[2]) .. frame(6, 0, 0, "12345678") },
    { dir = SEND, data = frame(1, 0x2d, 5, "\3" .. "\0\0\0\3\15" .. c4[3] .. "\0\0\0") },
    { dir = RECV, data = frame(1, 0x0, 5, c6[3]:sub(1, 20)) .. frame(9, 0x4, 5, c6[3]:sub(21))
                         .. frame(0, 0x0, 5, "\0\0\0\0\5hello") .. frame(1, 0x5, 5, "\x40\x0bgrpc-status\x010") },
    { dir = SEND, data = frame(2, 0, 7, "\0\0\0\5\1") .. frame(3, 0, 5, "\0\0\0\8")
                         .. frame(7, 0, 0, "\0\0\0\5\0\0\0\0") },
  }
  seeds[#seeds + 1] = { name = "push promise and RST_STREAM",
    { dir = SEND, data = PREFACE .. frame(4, 0, 0, "") .. frame(1, 0x5, 1, c4[1]) },
    { dir = RECV, data = frame(5, 0x4, 1, "\0\0\0\2" .. "\x82\x87\x85\x41\x8c\xf1\xe3\xc2\xe5\xf2\x3a\x6b\xa0\xab\x90\xf4\xff")
                         .. frame(1, 0x4, 1, "\x88") .. frame(0, 0x1, 1, "ok") .. frame(3, 0, 2, "\0\0\0\8") },
  }
  seeds[#seeds + 1] = { name = "HTTP/1.1 bodies",
    { dir = SEND, data = "POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
                         .. "GET /c HTTP/1.1\r\nHost: x\r\n\r\nHEAD /h HTTP/1.0\r\n\r\n" },
    { dir = RECV, data = "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok"
                         .. "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n1;x=y\r\n!\r\n0\r\nT: 1\r\n\r\n"
                         .. "HTTP/1.0 200 OK\r\nContent-Length: 9\r\n\r\nHTTP/1.0 204 No Content\r\n\r\n" },
  }
end

-- Mutations -------------------------------------------------------------------

local INTERESTING = { 0, 1, 0x7f, 0x80, 0xff, 0x3f, 0x1f, 0x0f, 0x40, 0x20, 0x08, 0x0d, 0x0a, 0x3a, 0x20 }
local LENGTHS = { 0, 1, 4, 5, 8, 9, 255, 16383, 16384, 65535, 65536, 0x7fffff, 0xffffff }

local function splice(s, i, j, with) return s:sub(1, i - 1) .. with .. s:sub(j + 1) end

-- Frame headers in a payload that starts on a frame boundary (past a
-- preface): their offsets.
local function frame_offsets(data)
  local pos, offs = 1, {}
  if data:sub(1, #PREFACE) == PREFACE then pos = #PREFACE + 1 end
  while pos + 8 <= #data and #offs < 64 do
    offs[#offs + 1] = pos
    pos = pos + 9 + string.unpack(">I3", data, pos)
  end
  return offs
end

local mutators = {
  function(d) -- a bit flipped
    local i = rand(#d)
    return splice(d, i, i, string.char(d:byte(i) ~ (1 << (rand(8) - 1))))
  end,
  function(d) -- a byte set
    local i = rand(#d)
    return splice(d, i, i, string.char(rand(2) == 1 and pick(INTERESTING) or rand(256) - 1))
  end,
  function(d) -- bytes inserted
    local t = {}
    for k = 1, rand(8) do t[k] = string.char(rand(256) - 1) end
    local i = rand(#d + 1)
    return splice(d, i, i - 1, table.concat(t))
  end,
  function(d) -- bytes deleted
    local i = rand(#d)
    return splice(d, i, math.min(#d, i + rand(16) - 1), "")
  end,
  function(d) -- a slice of another seed spliced in, or written over
    local src = pick(pick(seeds)).data
    local a = rand(#src)
    local piece = src:sub(a, a + rand(64) - 1)
    local i = rand(#d + 1)
    return splice(d, i, rand(2) == 1 and i - 1 or i + #piece - 1, piece)
  end,
  function(d) -- a frame's length
    local offs = frame_offsets(d)
    if #offs == 0 then return nil end
    local o = pick(offs)
    local len = string.unpack(">I3", d, o)
    local new = ({ pick(LENGTHS), len + 1, math.max(0, len - 1), rand(len + 16) - 1 })[rand(4)] & 0xffffff
    return splice(d, o, o + 2, string.pack(">I3", new))
  end,
  function(d) -- a frame's flags or type
    local offs = frame_offsets(d)
    if #offs == 0 then return nil end
    local o = pick(offs)
    if rand(3) == 1 then return splice(d, o + 3, o + 3, string.char(pick({ 0, 1, 3, 4, 5, 9, rand(256) - 1 }))) end
    return splice(d, o + 4, o + 4, string.char(d:byte(o + 4) ~ pick({ 0x1, 0x4, 0x8, 0x20, 0x8, 0x20 })))
  end,
  function(d) -- an HPACK integer at the start of a frame's payload, or anywhere
    local offs = frame_offsets(d)
    local i = #offs > 0 and pick(offs) + 9 or rand(#d)
    if i > #d then return nil end
    local ints = { "\xff\xff\xff\xff\xff\x0f", "\x7f\x80\x80\x80\x80\x01", "\x3f\xe1\xff\xff\x03", "\x3f\xe1\x1f",
                   "\x20", "\x00\x7f\xff\xff\xff\x7f", "\x00\x81\xff", "\x40\x85\xff\xff\xff\xff\xff\x01a",
                   "\xbe", "\xff\x80\x01" }
    return splice(d, i, i - 1, pick(ints))
  end,
  function(d) -- an HTTP/1 length or chunk size
    local a, b = d:find("[Ll]ength: %d+")
    if not a then a, b = d:find("\n%x+\r\n") end
    if not a then return nil end
    local n = pick({ "0", "1", "99999999999999999999", "-1", "ffffffff", "1 2", "18446744073709551617", "" })
    return splice(d, b - 1, b, n)
  end,
}

-- A chunk again and again, its frames on new streams or not: requests
-- never answered, streams never closed.
local function flood(c)
  local i = #c > 1 and rand(#c - 1) + 1 or 1 -- past the preface, mostly
  local ch = c[i]
  for k = 1, rand(300) do
    local d = ch.data
    if rand(2) == 1 then
      for _, o in ipairs(frame_offsets(d)) do d = splice(d, o + 5, o + 8, string.pack(">I4", 2 * k + 1)) end
    end
    table.insert(c, i + 1, { dir = ch.dir, data = d })
  end
end

local function mutate(conv)
  local c = {}
  for i, ch in ipairs(conv) do c[i] = { dir = ch.dir, data = ch.data } end
  for _ = 1, rand(4) do
    local r = rand(20)
    if r == 1 and #c > 1 then
      table.remove(c, rand(#c))
    elseif r == 2 then
      local ch = pick(c)
      table.insert(c, rand(#c + 1), { dir = ch.dir, data = ch.data })
    elseif r == 3 and #c > 1 then
      local i, j = rand(#c), rand(#c)
      c[i], c[j] = c[j], c[i]
    elseif r == 4 then
      local ch = pick(c)
      ch.dir = 1 - ch.dir
    elseif r == 5 and rand(5) == 1 then
      flood(c)
    else
      local ch = pick(c)
      if #ch.data > 0 then ch.data = pick(mutators)(ch.data) or ch.data end
    end
  end
  return c
end

-- Chunks -> the events a tracer would see: cut at random points, capped
-- at CAP bytes with the rest a hole, now and then a hole of their own.
local clock = 0
local function events_of(conv)
  local evs = {}
  local holes = rand(2) == 1 -- half the inputs are captured whole
  for _, ch in ipairs(conv) do
    local d, pos = ch.data, 1
    repeat
      local left = #d - pos + 1
      local n = (left > 0 and rand(4) == 1) and rand(left) or left
      local piece = d:sub(pos, pos + n - 1)
      pos = pos + n
      local len = #piece
      if holes and rand(20) == 1 then len = len + rand(2048) end
      clock = clock + rand(1000000)
      evs[#evs + 1] = { ts = clock, dir = ch.dir, len = len, caplen = math.min(#piece, CAP), data = piece }
    until pos > #d
  end
  return evs
end

-- The run ----------------------------------------------------------------------

local stats = http.stats and http.stats() or nil
local failures, failed, records = {}, 0, 0
local function failure(what, err, input)
  failed = failed + 1
  local key = tostring(err):gsub("0x%x+", "?")
  if not failures[key] and #failures < 10 then
    failures[key] = true
    failures[#failures + 1] = string.format("%s: %s\n  input: %s", what, tostring(err), input)
  end
end
local function dump(evs)
  local t = {}
  for i, e in ipairs(evs) do t[i] = string.format("%s%d/%d:%s", e.dir == SEND and ">" or "<", e.caplen, e.len, hex(e.data)) end
  return table.concat(t, " ")
end

local function feed(c, evs)
  for _, e in ipairs(evs) do
    local ok, out = pcall(c.feed, c, e)
    if not ok then return out end
    for _, r in ipairs(out) do
      if type(r.latency_ms) ~= "number" or (r.side ~= "client" and r.side ~= "server") then
        return "a record without latency or side"
      end
      records = records + 1
    end
  end
end

-- the seeds themselves are valid: each is read whole, nothing malformed
local function check_seeds()
  local st = http.stats()
  local n = 0
  for _, conv in ipairs(seeds) do
    local c = http.conn(st)
    for i, ch in ipairs(conv) do
      n = n + #c:feed({ ts = i, dir = ch.dir, len = #ch.data, caplen = #ch.data, data = ch.data })
    end
  end
  assert(st.malformed == 0, "a seed is malformed")
  assert(n == 16, "the seeds give 16 exchanges, not " .. n)
end

local long_lived = {}
for i = 1, 4 do long_lived[i] = http.conn(stats) end

local hpack_inputs = 0
local start = BPF.monotonic()
local checkpoints, base, stopped, done = {}, nil, nil, 0
local every = math.max(1, INPUTS // 10)
for n = 1, INPUTS do
  local evs = events_of(mutate(pick(seeds)))
  local err = feed(http.conn(stats), evs)
  if err then failure("conversation", err, dump(evs)) end
  if n % 4 == 0 then -- one connection fed junk for ever
    local i = rand(#long_lived)
    err = feed(long_lived[i], evs)
    if err then
      failure("long-lived connection", err, dump(evs))
      long_lived[i] = http.conn(stats)
    end
  end
  if n % 5 == 0 then -- an RFC sequence, one block mutated, through one decoder
    local seq = pick(HPACK_SEQS)
    local d = hpack.decoder(seq.size)
    local which = rand(#seq)
    for j, block in ipairs(seq) do
      if j == which then block = pick(mutators)(block) or block end
      hpack_inputs = hpack_inputs + 1
      local ok, e2 = pcall(d.decode, d, block)
      if not ok then failure("hpack", e2, hex(block)) end
      ok, e2 = pcall(hpack.huffman, block)
      if not ok then failure("huffman", e2, hex(block)) end
    end
  end
  if n % every == 0 then
    collectgarbage("collect")
    local kb = collectgarbage("count")
    checkpoints[#checkpoints + 1] = string.format("%.0f", kb)
    base = base or kb
    if kb > MEM_LIMIT_KB or kb - base > MEM_GROWTH_KB then
      stopped = string.format("memory grows: %.0f KiB after %d inputs (%.0f KiB at the first checkpoint)", kb, n, base)
    elseif BPF.monotonic() - start > TIME_LIMIT * INPUTS / 100000 then
      stopped = string.format("too slow: %d inputs in %.1f s", n, BPF.monotonic() - start)
    end
    if stopped then
      done = n
      break
    end
  end
  done = n
end
local elapsed = BPF.monotonic() - start
if not stopped and elapsed > TIME_LIMIT * INPUTS / 100000 then
  stopped = string.format("too slow: %d inputs in %.1f s", INPUTS, elapsed)
end

print(string.format("http_fuzz: %d conversations (%d fed to long-lived connections too) and %d HPACK blocks in %.1f s",
  done, done // 4, hpack_inputs, elapsed))
print(string.format("http_fuzz: %d exchanges reported; Lua heap after each tenth (KiB): %s",
  records, table.concat(checkpoints, " ")))
if stats then
  local why = {}
  for k, v in pairs(stats.why) do why[#why + 1] = string.format("%7d  %s", v, k) end
  table.sort(why, function(a, b) return a > b end)
  print(string.format("http_fuzz: %d malformed, evicted %d requests and %d streams; reasons:\n%s",
    stats.malformed, stats.evicted_requests, stats.evicted_streams, table.concat(why, "\n")))
end
if failed > 0 then
  io.stderr:write(string.format("http_fuzz: %d inputs raised an error; the first of each kind:\n%s\n",
    failed, table.concat(failures, "\n")))
end
if stopped then io.stderr:write("http_fuzz: stopped: ", stopped, "\n") end
if failed > 0 or stopped then os.exit(1) end
check_seeds()
print("http_fuzz: no error escaped, memory stayed bounded")
