-- The subcommands written in Lua: run, list, doctor.
local tracer = require("bpflua.tracer")

local M = {}

local function run(argv)
  local name = argv[2]
  if not name or name == "-h" or name == "--help" then
    print("usage: bpflua run NAME [OPTIONS]   (bpflua list shows the tracers)")
    return name and 0 or 2
  end
  local path = tracer.find(name)
  if not path then
    error(BPF.error("usage", string.format("no tracer named '%s' (searched %s; bpflua list shows them)",
      name, table.concat(tracer.search_path(), ":"))))
  end
  local decl = tracer.load(path)
  local opts = tracer.parse(decl, { table.unpack(argv, 3) })
  if not opts then
    print(tracer.usage(decl))
    return 0
  end
  return tracer.run(decl, opts)
end

local function list()
  for _, r in ipairs(tracer.list()) do
    print(string.format("%-14s %s", r.name, r.description))
  end
  return 0
end

-- A cache that cannot be used is the user's situation, not a bug: no traceback.
local function plain(f)
  local ok, a, b = pcall(f)
  if not ok then error(BPF.is_error(a) and a or BPF.error("failed", (tostring(a):gsub("^[^:]*:%d+: ", "")))) end
  return a, b
end

local function cache(argv)
  local what = argv[2]
  if what == "list" then
    local entries, dir = plain(BPF.cache_list)
    table.sort(entries, function(a, b) return a.mtime > b.mtime end)
    local total = 0
    for _, e in ipairs(entries) do
      print(string.format("%s  %8d bytes  %s", e.key, e.size, os.date("%Y-%m-%d %H:%M:%S", e.mtime)))
      total = total + e.size
    end
    print(string.format("%d compiled programs, %d bytes, in %s", #entries, total, dir))
    return 0
  elseif what == "clear" then
    print(string.format("removed %d compiled programs", plain(BPF.cache_clear)))
    return 0
  end
  error(BPF.error("usage", "usage: bpflua cache list|clear"))
end

function M.main(argv)
  local cmd = argv[1]
  if cmd == "run" then return run(argv) end
  if cmd == "list" then return list() end
  if cmd == "cache" then return cache(argv) end
  if cmd == "agent" then return require("bpflua.agent").main({ table.unpack(argv, 2) }) end
  if cmd == "doctor" then return require("bpflua.doctor").main({ table.unpack(argv, 2) }) end
  error(BPF.error("usage", "unknown command " .. tostring(cmd)))
end

return M
