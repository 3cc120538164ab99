-- Checks for the unprivileged Lua unit tests: run by bpflua as any user,
-- with no kernel objects made. A failed check is printed and the others
-- still run; done() then raises, so bpflua exits 1.
local M = { checks = 0, failures = 0, dir = arg[0]:match("^(.*)/[^/]*$") or "." }

local function fail(msg)
  M.failures = M.failures + 1
  local where = debug.getinfo(3, "Sl") or debug.getinfo(2, "Sl")
  io.stderr:write(string.format("FAIL %s:%d: %s\n", where.short_src, where.currentline, msg))
end

-- ctest runs these as nobody with no capabilities: prove it, so a test that
-- only passes as root cannot hide here
if os.getenv("BPFLUA_UNIT_UNPRIVILEGED") == "1" then
  local f = assert(io.open("/proc/self/status", "r"))
  local status = f:read("a")
  f:close()
  local uid, caps = status:match("\nUid:%s+(%d+)"), status:match("\nCapEff:%s+(%x+)")
  if uid == "0" or tonumber(caps, 16) ~= 0 then
    error(string.format("run as uid %s with capabilities %s, want an unprivileged user", uid, caps))
  end
end

local function show(v)
  return type(v) == "string" and string.format("%q", v) or tostring(v)
end

function M.eq(got, want, what)
  M.checks = M.checks + 1
  if got ~= want then fail(string.format("%s: got %s, want %s", what, show(got), show(want))) end
end

function M.ok(cond, what)
  M.checks = M.checks + 1
  if not cond then fail(what) end
end

-- Calls fn(...) and returns the error table or message it raised; a call
-- that returns instead fails the check (and gives nil).
function M.raises(what, fn, ...)
  local ok, err = pcall(fn, ...)
  M.checks = M.checks + 1
  if ok then
    fail(what .. ": no error raised")
    return nil
  end
  return err
end

-- A table's fields, one per line and sorted, so tables compare as text.
function M.dump(t)
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = k end
  table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
  local lines = {}
  for _, k in ipairs(keys) do
    local v = t[k]
    if type(v) == "table" then v = "{" .. M.dump(v):gsub("\n", ", ") .. "}" else v = show(v) end
    lines[#lines + 1] = tostring(k) .. "=" .. v
  end
  return table.concat(lines, "\n")
end

-- Compares text with golden/NAME; BPFLUA_GOLDEN_UPDATE=1 rewrites the file
-- instead (then read the diff: every change there is a change users see).
function M.golden(name, text)
  local path = M.dir .. "/golden/" .. name
  if os.getenv("BPFLUA_GOLDEN_UPDATE") == "1" then
    local f = assert(io.open(path, "w"))
    f:write(text)
    f:close()
  end
  M.checks = M.checks + 1
  local f = io.open(path, "r")
  if not f then return fail("no golden file " .. path .. " (BPFLUA_GOLDEN_UPDATE=1 writes it)") end
  local want = f:read("a")
  f:close()
  if text ~= want then
    local got_lines, want_lines = {}, {}
    for l in (text .. "\n"):gmatch("(.-)\n") do got_lines[#got_lines + 1] = l end
    for l in (want .. "\n"):gmatch("(.-)\n") do want_lines[#want_lines + 1] = l end
    for i = 1, math.max(#got_lines, #want_lines) do
      if got_lines[i] ~= want_lines[i] then
        return fail(string.format("%s differs at line %d:\n  got:  %s\n  want: %s", path, i, show(got_lines[i]),
          show(want_lines[i])))
      end
    end
  end
end

function M.done(name)
  if M.failures > 0 then error(string.format("%s: %d of %d checks failed", name, M.failures, M.checks), 0) end
  print(string.format("%s: %d checks passed", name, M.checks))
end

return M
