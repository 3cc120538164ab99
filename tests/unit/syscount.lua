-- syscount's report from fixed map contents, with no root and no kernel:
-- every view (per syscall, -P, -x, -L and their mixes, --top) in text and
-- JSON, against golden/syscount_*.txt. Syscall names are x86-64's.
local t = dofile((arg[0]:match("^(.*/)") or "./") .. "lib.lua")
local tracer = require("bpflua.tracer")
local output = require("bpflua.output")

local decl = tracer.load(t.dir .. "/../../scripts/syscount.lua")

-- a map as the report reads it: items() in a fixed order, get(), clear()
local function map(pairs_list)
  local m = { cleared = false }
  function m:items()
    local i = 0
    return function()
      i = i + 1
      local e = pairs_list[i]
      if e then return e[1], e[2] end
    end
  end
  function m:get(k)
    for _, e in ipairs(pairs_list) do if e[1] == k then return e[2] end end
  end
  function m:clear() self.cleared = true end
  return m
end

-- per-CPU arrays, as the kernel keeps them by syscall (two CPUs)
local function by_syscall()
  return map({ { 0, { 3, 2 } }, { 1, { 0, 0 } }, { 3, { 5, 0 } }, { 39, { 10, 0 } }, { 57, { 4, 1 } },
               { 110, { 0, 7 } }, { 230, { 1, 0 } } })
end

local function latency_by_syscall()
  return map({ { 0, { { count = 3, ns = 3000 }, { count = 2, ns = 7000 } } },
               { 3, { { count = 5, ns = 1234567 }, { count = 0, ns = 0 } } },
               { 39, { { count = 10, ns = 15 }, { count = 0, ns = 0 } } },
               { 230, { { count = 1, ns = 1000999 }, { count = 0, ns = 0 } } },
               { 1, { { count = 0, ns = 0 }, { count = 0, ns = 0 } } } })
end

local function hist_by_syscall()
  local SLOTS = 32
  return map({ { 0 * SLOTS + 2, { 3, 1 } }, { 0 * SLOTS + 4, { 0, 1 } }, { 3 * SLOTS + 1, { 2, 0 } },
               { 3 * SLOTS + 10, { 1, 2 } }, { 230 * SLOTS + 10, { 1, 0 } }, { 39 * SLOTS + 1, { 0, 0 } } })
end

local function by_process()
  return map({ { 4242, 12 }, { 100, 3 }, { 7, 12 }, { 999, 0 }, { 31337, 1 } })
end

local function comms()
  return map({ { 4242, { comm = "bash" } }, { 100, { comm = "sshd" } }, { 7, { comm = "init" } } })
end

local CASES = {
  { "counts", {}, function() return { counts = by_syscall() } end },
  { "top2", { top = 2 }, function() return { counts = by_syscall() } end },
  { "all", { top = 0 }, function() return { counts = by_syscall() } end },
  { "empty", {}, function() return { counts = map({}) } end },
  { "process", { process = true }, function() return { counts = by_process(), comms = comms() } end },
  { "errors", { errors = true }, function()
    return { counts = by_syscall(),
             errors = map({ { { key = 257, err = 2 }, 7 }, { { key = 0, err = 11 }, 2 }, { { key = 257, err = 13 }, 2 },
                            { { key = 4, err = 2 }, 0 } }) }
  end },
  { "errors_process", { errors = true, process = true }, function()
    return { counts = by_process(), comms = comms(),
             errors = map({ { { key = 4242, err = 2 }, 5 }, { { key = 31337, err = 1 }, 9 } }) }
  end },
  { "latency", { latency = true }, function()
    return { counts = by_syscall(), latency = latency_by_syscall(), hist = hist_by_syscall() }
  end },
  { "latency_process", { latency = true, process = true }, function()
    return { counts = by_process(), comms = comms(),
             latency = map({ { 4242, { count = 12, ns = 5000000 } }, { 7, { count = 0, ns = 0 } },
                             { 100, { count = 3, ns = 1000 } } }) }
  end },
  { "latency_top1", { latency = true, top = 1 }, function()
    return { counts = by_syscall(), latency = latency_by_syscall(), hist = hist_by_syscall() }
  end },
}

for _, c in ipairs(CASES) do
  for _, format in ipairs({ "text", "json" }) do
    local opts = { top = 10, process = false, errors = false, latency = false, format = format }
    for k, v in pairs(c[2]) do opts[k] = v end
    local path = os.tmpname()
    opts.out = output.new({ format = format, path = path })
    local st = c[3]()
    -- an interval's report (not the last): it clears what it read
    local ok, err = pcall(decl.report, st, opts, false)
    opts.out:close(ok)
    local f = assert(io.open(path, "r"))
    local text = f:read("a")
    f:close()
    os.remove(path)
    local name = "syscount_" .. c[1] .. (format == "json" and ".json" or ".txt")
    if not ok then
      t.ok(false, name .. ": " .. tostring(type(err) == "table" and err.message or err))
    else
      t.golden(name, text)
    end
    -- each report starts the next interval from nothing
    for m, tbl in pairs(st) do
      if m ~= "comms" then t.eq(tbl.cleared, true, name .. ": " .. m .. " cleared") end
    end
    -- the last report leaves them: nothing counts after it
    st = c[3]()
    local last = os.tmpname()
    opts.out = output.new({ format = format, path = last })
    decl.report(st, opts, true)
    opts.out:close(true)
    os.remove(last)
    for m, tbl in pairs(st) do
      if m ~= "comms" then t.eq(tbl.cleared, false, name .. ": " .. m .. " left as read by the last report") end
    end
  end
end

t.done("syscount")
