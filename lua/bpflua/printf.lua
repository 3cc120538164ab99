-- bpftrace's printf formats, read once before anything compiles and applied
-- in Lua to each event: %d %i %u %x %X %o %s %c %p and %%, with C's flags
-- (- + space # 0), a width, a precision and the length modifiers bpftrace
-- takes (h hh l ll z j), which change nothing here: every value arrives as
-- 64 bits (strings as strings).
local M = {}

local CONVERSIONS = "diuxXoscp"

-- The format's pieces: literal text, and conversions
-- { conv = "d", flags = "-", width = "5", prec = ".2" }. Raises a message
-- naming the first bad conversion.
function M.parse(fmt)
  if type(fmt) ~= "string" then
    return nil, "the second item must be the format, a string such as \"%s opened %s\\n\""
  end
  local pieces, i, literal = {}, 1, {}
  while i <= #fmt do
    local at = fmt:find("%", i, true)
    if not at then
      literal[#literal + 1] = fmt:sub(i)
      break
    end
    literal[#literal + 1] = fmt:sub(i, at - 1)
    if fmt:sub(at + 1, at + 1) == "%" then
      literal[#literal + 1] = "%"
      i = at + 2
    else
      local flags, width, prec, len, conv, after = fmt:match("^([-+ #0]*)(%d*)(%.?%d*)([hlzj]*)(.?)()", at + 1)
      if conv == "" then return nil, string.format("the format ends inside a conversion ('%s')", fmt:sub(at)) end
      local spec = fmt:sub(at, after - 1)
      if not CONVERSIONS:find(conv, 1, true) then
        return nil, string.format("'%s' at %d of the format is not a conversion bpftrace knows " ..
          "(%%d %%i %%u %%x %%X %%o %%s %%c %%p, %%%% for a %%)", spec, at)
      end
      if not (len == "" or len == "h" or len == "hh" or len == "l" or len == "ll" or len == "z" or len == "j") then
        return nil, string.format("'%s': '%s' is not a length C knows (h, hh, l, ll, z, j)", spec, len)
      end
      if #width > 2 or #prec > 3 then return nil, string.format("'%s': width and precision stop at 99", spec) end
      if #literal > 0 then pieces[#pieces + 1] = table.concat(literal) literal = {} end
      pieces[#pieces + 1] = { conv = conv, flags = flags, width = width, prec = prec, spec = spec }
      i = after
    end
  end
  if #literal > 0 then pieces[#pieces + 1] = table.concat(literal) end
  local n = 0
  for _, p in ipairs(pieces) do if type(p) == "table" then n = n + 1 end end
  return { pieces = pieces, count = n }
end

-- an unsigned 64-bit value (held in a Lua integer) in decimal
local function unsigned(v)
  if v >= 0 then return tostring(v) end
  local q = (v >> 1) // 5
  return tostring(q) .. tostring(v - q * 10)
end

-- text padded as C pads it: '-' left, '0' with zeros after any sign
local function pad(s, flags, width)
  local w = tonumber(width) or 0
  if #s >= w then return s end
  if flags:find("-", 1, true) then return s .. string.rep(" ", w - #s) end
  if flags:find("0", 1, true) then
    local sign, digits = s:match("^([-+ ]?)(.*)$")
    return sign .. string.rep("0", w - #s) .. digits
  end
  return string.rep(" ", w - #s) .. s
end

local function one(c, v)
  local conv = c.conv
  if conv == "s" then
    local s = type(v) == "string" and BPF.printable(v) or tostring(v)
    if c.prec ~= "" then s = s:sub(1, tonumber(c.prec:sub(2)) or 0) end
    return pad(s, c.flags, c.width)
  end
  if type(v) ~= "number" then v = tonumber(v) or 0 end
  v = math.tointeger(v) or 0
  if conv == "c" then return pad(string.char(v & 0xff), c.flags, c.width) end
  if conv == "p" then return pad(string.format("0x%x", v), c.flags, c.width) end
  if conv == "u" then
    if v >= 0 then return string.format("%" .. c.flags:gsub("[+ #]", "") .. c.width .. c.prec .. "d", v) end
    return pad(unsigned(v), c.flags, c.width)
  end
  local flags = c.flags
  if conv == "i" or conv == "d" then
    conv, flags = "d", flags:gsub("#", "")
  else -- C ignores a sign for unsigned conversions; Lua refuses it
    flags = flags:gsub("[+ ]", "")
  end
  return string.format("%" .. flags .. c.width .. c.prec .. conv, v)
end

-- The text of one event: values[i] is the i-th conversion's value.
function M.format(parsed, values)
  local out, n = {}, 0
  for _, p in ipairs(parsed.pieces) do
    if type(p) == "string" then
      out[#out + 1] = p
    else
      n = n + 1
      out[#out + 1] = one(p, values[n])
    end
  end
  return table.concat(out)
end

-- str(EXPR) or str(EXPR, N): the expression and the length, or nil
function M.str_call(s)
  local inner = s:match("^%s*str%s*%((.*)%)%s*$")
  if not inner then return nil end
  local expr, n = inner:match("^(.-),%s*(%d+)%s*$")
  return expr or inner, tonumber(n) or 64
end

return M
