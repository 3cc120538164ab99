-- HPACK against the worked examples of RFC 7541 (C.4: requests with
-- Huffman coding, one connection, so the dynamic table carries over).
local t = dofile(arg[0]:match("(.*/)") .. "lib.lua")
local hpack = require("bpflua.hpack")

local function unhex(s)
  return (s:gsub("%s", ""):gsub("..", function(h) return string.char(tonumber(h, 16)) end))
end

local function text(headers)
  local out = {}
  for i, h in ipairs(headers) do out[i] = h[1] .. ": " .. h[2] end
  return table.concat(out, "\n")
end

local d = hpack.decoder()
t.eq(text(d:decode(unhex("8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff"))),
  ":method: GET\n:scheme: http\n:path: /\n:authority: www.example.com", "C.4.1")
t.eq(text(d:decode(unhex("8286 84be 5886 a8eb 1064 9cbf"))),
  ":method: GET\n:scheme: http\n:path: /\n:authority: www.example.com\ncache-control: no-cache", "C.4.2")
t.eq(text(d:decode(unhex("8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf"))),
  ":method: GET\n:scheme: https\n:path: /index.html\n:authority: www.example.com\ncustom-key: custom-value", "C.4.3")
t.eq(d.size, 164, "dynamic table size after C.4.3")
t.eq(hpack.huffman(unhex("f1e3 c2e5 f23a 6ba0 ab90 f4ff")), "www.example.com", "Huffman string")
t.ok(not hpack.huffman(unhex("ffff ffff")), "EOS inside a string is refused")
local ok, err = d:decode(unhex("ff ff ff ff 0f"))
t.ok(not ok and err, "a bad index is refused: " .. tostring(err))
t.done("hpack")
