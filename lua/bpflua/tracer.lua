-- The tracer framework: a tracer is a Lua file returning a declaration
-- (name, description, args) and callbacks (init, event loop hooks, report),
-- as sysdig chisels are. Usage text and argument checks come from the
-- declaration, before anything is compiled.
local output = require("bpflua.output")

local M = {}

-- Options every tracer gets.
local COMMON = {
  { "p", "pid", type = "int", min = 1, max = 4194304, help = "trace only this process id (the trace ends when it exits)" },
  { "d", "duration", type = "number", help = "stop after SECONDS (default: until Ctrl-C)" },
  { "i", "interval", type = "number", help = "print a report every SECONDS" },
  { nil, "format", type = "choice", choices = { "text", "json" }, default = "text",
    help = "output format: text or json (one object per line)" },
  { "o", "output", type = "string", help = "write the report to FILE instead of stdout" },
  { "c", "command", type = "string", metavar = "'COMMAND'",
    help = "run COMMAND, trace it and every process it starts, stop when it exits (also: -- COMMAND ARGS)" },
  { nil, "perf-buffer", type = "flag", help = "stream events through a perf buffer even where ring buffers exist" },
  { nil, "children", type = "flag",
    help = "with -p: also its live descendants and every process they start (-c always follows them)" },
  { nil, "cgroup", type = "string", metavar = "PATH",
    help = "trace only processes in this cgroup v2 directory and the ones below it" },
  -- tracers whose records name a process (decl.containers)
  { nil, "container", type = "flag", only = "containers",
    help = "a CONTAINER column: the process's container id (docker, containerd, CRI-O, podman) or cgroup path" },
}

function M.search_path()
  local dirs = {}
  for d in (os.getenv("BPFLUA_PATH") or ""):gmatch("[^:]+") do dirs[#dirs + 1] = d end
  local home = os.getenv("HOME")
  if home then dirs[#dirs + 1] = home .. "/.local/share/bpflua/scripts" end
  dirs[#dirs + 1] = "/usr/local/share/bpflua/scripts"
  dirs[#dirs + 1] = BPF.scripts_dir
  return dirs
end

local function readable(path)
  local f = io.open(path, "r")
  if f then f:close() end
  return f ~= nil
end

function M.find(name)
  if name:find("/") then return readable(name) and name or nil end
  for _, d in ipairs(M.search_path()) do
    local p = d .. "/" .. name .. ".lua"
    if readable(p) then return p end
  end
end

-- Each tracer runs in an environment of its own, so one cannot trample
-- another's globals; errors name the tracer's own file.
function M.load(path)
  local env = setmetatable({}, { __index = _G })
  local chunk, err = loadfile(path, "t", env)
  if not chunk then error(BPF.error("failed", err)) end
  local decl = chunk()
  if type(decl) ~= "table" or type(decl.name) ~= "string" then
    error(BPF.error("failed", path .. ": a tracer must return a table with at least a name"))
  end
  decl.path = path
  return decl
end

local TYPES

-- Declarations write an option compactly, { SHORT, LONG, type = ..., ... },
-- as getopt tables read; the framework reads it as named fields: short,
-- long, key (the opts field), and the declaration's own.
local function option(decl, a)
  if not TYPES[a.type] then
    error(BPF.error("failed", string.format("%s: option --%s: type must be int, number, choice, string or flag, not %s",
      decl.path or decl.name, tostring(a[2]), tostring(a.type))))
  end
  local o = { short = a[1], long = a[2], key = (a[2]:gsub("-", "_")) }
  for k, v in pairs(a) do
    if type(k) == "string" and k ~= "only" then o[k] = v end
  end
  return o
end

local function all_args(decl)
  local list, seen = {}, {}
  local function add(a)
    if not seen[a[2]] then
      seen[a[2]] = true
      list[#list + 1] = option(decl, a)
    end
  end
  for _, a in ipairs(decl.args or {}) do add(a) end
  if not decl.no_common then
    for _, a in ipairs(COMMON) do
      if not a.only or decl[a.only] then add(a) end
    end
  end
  return list
end

-- Option types: what the help shows after the flag, and how a value is
-- read (nil and why not, for the usage error).
TYPES = {
  int = {
    metavar = "INT",
    read = function(a, v)
      local n = math.tointeger(tonumber(v))
      if not n then return nil, string.format("wants an integer, not '%s'", v) end
      if (a.min and n < a.min) or (a.max and n > a.max) then
        local range = not a.max and string.format("at least %d", a.min)
          or not a.min and string.format("at most %d", a.max)
          or string.format("from %d to %d", a.min, a.max)
        return nil, string.format("must be %s, not %d", range, n)
      end
      return n
    end,
  },
  number = {
    metavar = "NUMBER",
    read = function(_, v)
      local n = tonumber(v)
      -- n == n: not NaN; an endless duration is no duration at all
      if not n or n <= 0 or n ~= n or n == math.huge then
        return nil, string.format("wants a positive number, not '%s'", v)
      end
      return n
    end,
  },
  choice = {
    read = function(a, v)
      for _, c in ipairs(a.choices) do if c == v then return v end end
      return nil, string.format("must be one of %s, not '%s'", table.concat(a.choices, ", "), v)
    end,
  },
  string = { metavar = "STRING", read = function(_, v) return v end },
  flag = {},
}

local function metavar(a)
  if a.type == "flag" then return nil end
  return a.metavar or (a.type == "choice" and table.concat(a.choices, "|")) or TYPES[a.type].metavar
end

function M.usage(decl)
  local lines = { string.format("usage: bpflua run %s [OPTIONS]", decl.name), "",
                  decl.description or "", "", "options:" }
  for _, a in ipairs(all_args(decl)) do
    local flag = (a.short and ("-" .. a.short .. ", ") or "    ") .. "--" .. a.long
    local mv = metavar(a)
    if mv then flag = flag .. " " .. mv end
    local help = a.help or ""
    if a.default ~= nil and a.type ~= "flag" then help = help .. " (default " .. tostring(a.default) .. ")" end
    lines[#lines + 1] = string.format("  %-28s %s", flag, help)
  end
  lines[#lines + 1] = string.format("  %-28s %s", "-h, --help", "show this help")
  return table.concat(lines, "\n")
end

local function usage_error(decl, msg)
  error(BPF.error("usage",
          string.format("%s: %s\n(bpflua run %s --help lists the options)", decl.name, msg, decl.name)))
end

-- flag: the option as written, without "=VALUE"
local function convert(decl, a, flag, v)
  local value, err
  if a.parse then
    value, err = a.parse(v)
  else
    value, err = TYPES[a.type].read(a, v)
  end
  if value == nil then usage_error(decl, string.format("%s %s%s", flag, err, a.parse and (", not '" .. v .. "'") or "")) end
  return value
end

-- "-c 'COMMAND'": a plain command is executed directly; anything with shell
-- syntax goes through /bin/sh. Either way the command and every process it
-- starts are traced (config.h follows the forks).
local function command_argv(opts)
  if opts.command_argv then return opts.command_argv end
  local cmd = opts.command
  if cmd:find("[|&;<>()$`\\\"'*?%[%]#~=%%{}]") then return { "/bin/sh", "-c", cmd } end
  local argv = {}
  for w in cmd:gmatch("%S+") do argv[#argv + 1] = w end
  return argv
end

-- the program's path, as execvp would find it (nil: none)
local function executable(name)
  if name:find("/") then
    local f = io.open(name, "r")
    if f then f:close() end
    return f and name
  end
  for dir in (os.getenv("PATH") or "/usr/bin:/bin"):gmatch("[^:]+") do
    local f = io.open(dir .. "/" .. name, "r")
    if f then
      f:close()
      return dir .. "/" .. name
    end
  end
  return nil
end

-- opts before argv is read: defaults, and false for each flag
local function defaults(args)
  local opts = {}
  for _, a in ipairs(args) do
    if a.default ~= nil then opts[a.key] = a.default end
    if a.type == "flag" and a.default == nil then opts[a.key] = false end
  end
  return opts
end

-- What is traced: -p names a live process, or -c / -- a program that exists;
-- not both.
local function check_target(decl, opts)
  if opts.command and opts.command_argv then usage_error(decl, "give either -c COMMAND or -- COMMAND, not both") end
  if opts.pid and (opts.command or opts.command_argv) then usage_error(decl, "-p and -c exclude each other") end
  if opts.pid and not M.alive(opts.pid) then usage_error(decl, string.format("-p %d: no such process", opts.pid)) end
  if opts.children and not (opts.pid or opts.command or opts.command_argv) then
    usage_error(decl, "--children follows the processes -p PID starts; give -p PID (a -c command's are always followed)")
  end
  if opts.cgroup then
    local cg, err = require("bpflua.probe").cgroup(opts.cgroup)
    if not cg then usage_error(decl, "--cgroup " .. err) end
    opts.cgroup_info = cg
  end
  if opts.command or opts.command_argv then
    opts.command_argv = command_argv(opts)
    if #opts.command_argv == 0 then usage_error(decl, opts.command and "-c needs a command" or "-- needs a command after it") end
    if not executable(opts.command_argv[1]) then
      usage_error(decl, "cannot run the command: no such program '" .. opts.command_argv[1] .. "'")
    end
  end
end

-- argv: list of strings after the tracer's name. Returns opts, or raises
-- a usage error naming the bad argument. "--help" returns nil.
function M.parse(decl, argv)
  local args = all_args(decl)
  local opts = defaults(args)
  local i = 1
  while i <= #argv do
    local s = argv[i]
    if s == "-h" or s == "--help" then return nil end
    if s == "--" then
      opts.command_argv = { table.unpack(argv, i + 1) }
      break
    end
    local name, inline = s:match("^%-%-([%w-]+)=(.*)$")
    name = name or s:match("^%-%-([%w-]+)$")
    local short = not name and s:match("^%-(%a)$")
    local found
    for _, a in ipairs(args) do
      if (name and a.long == name) or (short and a.short == short) then found = a end
    end
    if not found then
      usage_error(decl, s:sub(1, 1) == "-" and ("unknown option " .. s) or ("unexpected argument '" .. s .. "'"))
    end
    local key = found.key
    local flag = name and ("--" .. name) or s
    if found.type == "flag" then
      if inline then usage_error(decl, string.format("%s takes no value, not '%s'", flag, inline)) end
      opts[key] = true
    else
      local v = inline
      if v == nil then
        i = i + 1
        v = argv[i]
        if v == nil then usage_error(decl, s .. " needs a value") end
      end
      opts[key] = convert(decl, found, flag, v)
    end
    i = i + 1
  end
  check_target(decl, opts)
  if decl.check then
    local err = decl.check(opts)
    if err then usage_error(decl, err) end
  end
  return opts
end

-- A process that exited (or is a zombie) ends a -p trace, as strace's does.
function M.alive(pid)
  local f = io.open("/proc/" .. pid .. "/stat", "r")
  if not f then return false end
  local stat = f:read("a") or ""
  f:close()
  local state = stat:match("%) (%a)")
  return state ~= nil and state ~= "Z" and state ~= "X"
end

-- --container: a CONTAINER column after each record's pid, read from the
-- process's /proc/PID/cgroup as the record is written, or for a process
-- gone by then from the cgroup config.h saw it exit in ("?" if neither);
-- JSON carries the whole container id.
local function with_containers(out)
  local cgroups = require("bpflua.cgroups")
  local widened = setmetatable({}, { __mode = "k" })
  local function cols_of(cols)
    local c = widened[cols]
    if not c then
      c = {}
      for _, col in ipairs(cols) do
        c[#c + 1] = col
        if col[1] == "pid" then c[#c + 1] = { "container", "CONTAINER", "%-12s" } end
      end
      widened[cols] = c
    end
    return c
  end
  local paths = {}
  local function container(pid)
    if not pid then return nil end
    if paths[pid] == nil then
      local exited = require("bpflua.probe").exit_cgroup(pid)
      paths[pid] = (exited and cgroups.path(exited)) or cgroups.of_pid(pid) or false
    end
    return paths[pid] and cgroups.label(paths[pid], out.format == "json") or "?"
  end
  local record, header = out.record, out.header
  out.record = function(self, row, cols)
    row.container = container(row.pid)
    return record(self, row, cols_of(cols))
  end
  out.header = function(self, cols) return header(self, cols_of(cols)) end
end

local function timestamp()
  return os.date("%H:%M:%S")
end

-- A one-line status on stderr while a trace runs on a terminal.
local Status = {}
Status.__index = Status

local function new_status(decl)
  return setmetatable({ on = BPF.isatty(2) and os.getenv("TERM") ~= "dumb", shown = false,
                        last = 0, decl = decl }, Status)
end

function Status:show(st, elapsed)
  if not self.on or elapsed - self.last < 0.5 then return end
  self.last = elapsed
  local s = string.format("%s: %.0fs", self.decl.name, elapsed)
  local c = self.decl.status and self.decl.status(st)
  if c then
    if c.events then s = s .. string.format(", %d events", c.events) end
    if c.lost then s = s .. string.format(", %d lost", c.lost) end
    if c.malformed and c.malformed > 0 then s = s .. string.format(", %d malformed", c.malformed) end
  end
  io.stderr:write("\r\27[K", s, " (Ctrl-C to end)")
  self.shown = true
end

function Status:clear()
  if self.shown then io.stderr:write("\r\27[K") end
  self.shown = false
end

-- The event loop: poll (or sleep), report every interval, stop at the
-- duration, on Ctrl-C or when the -c command exits, then a final report.
-- Cleanup is the BPF objects' own: they detach when collected, on error too.
function M.run(decl, opts)
  require("bpflua.events").force_perf(opts.perf_buffer)
  BPF.graceful_stop(true)
  opts.out = output.new({ format = opts.format, path = opts.output })
  if opts.container then with_containers(opts.out) end
  local child
  local ok, err = pcall(function()
    if opts.command or opts.command_argv then
      child = BPF.spawn(opts.command_argv, executable(opts.command_argv[1]))
      opts.pid = child:pid()
    end
    local st = decl.init(opts) or {}
    if child then child:start() end
    local status = new_status(decl)
    local start = BPF.monotonic()
    local last = start
    local tick = decl.poll and 0.1 or 0.25
    local exit_code
    while true do
      local now = BPF.monotonic()
      local left = opts.duration and (start + opts.duration - now) or math.huge
      if left <= 0 then break end
      local step = math.min(tick, left)
      if opts.interval then step = math.min(step, math.max(0, last + opts.interval - now)) end
      if decl.poll then
        decl.poll(st, opts, math.max(1, math.floor(step * 1000)))
      elseif step > 0 and not BPF.sleep(step) then
        break
      end
      if BPF.interrupted() then break end
      if decl.stop_when and decl.stop_when(st, opts) then break end
      if child then
        local exited, code = child:wait(false)
        if exited then
          exit_code = code
          break
        end
      elseif opts.pid and not M.alive(opts.pid) then
        opts.out:note(string.format("%s: process %d exited", decl.name, opts.pid))
        break
      end
      now = BPF.monotonic()
      status:show(st, now - start)
      if opts.interval and now - last >= opts.interval - 1e-3 then
        last = now
        status:clear()
        opts.out:text("[" .. timestamp() .. "]")
        if decl.report then decl.report(st, opts, false) end
      end
    end
    status:clear()
    if decl.poll then decl.poll(st, opts, 0) end -- what is still queued
    if exit_code then opts.out:note(string.format("%s: the command exited with status %d", decl.name, exit_code)) end
    if decl.report and not (opts.interval and BPF.monotonic() - last < 1e-3) then
      if opts.interval then opts.out:text("[" .. timestamp() .. "]") end
      decl.report(st, opts, true)
    end
    if decl.finish then decl.finish(st, opts) end
    -- SIGHUP/SIGPIPE: nobody is left to read the report (signals.c)
    local sig = BPF.aborted()
    if sig then error(BPF.error("signal", "stopped by " .. sig .. "; nothing is left to read the report")) end
  end)
  if child then child:kill() end
  opts.out:close(ok)
  if not ok then error(err, 0) end
  return 0
end

function M.list()
  local seen, rows = {}, {}
  for _, d in ipairs(M.search_path()) do
    for _, f in ipairs(BPF.listdir(d) or {}) do
      local name = f:match("^(.-)%.lua$")
      if name and not seen[name] then
        seen[name] = true
        local ok, decl = pcall(M.load, d .. "/" .. f)
        rows[#rows + 1] = { name = name,
                            description = ok and (decl.description or "") or ("(cannot load: " .. tostring(decl) .. ")") }
      end
    end
  end
  table.sort(rows, function(a, b) return a.name < b.name end)
  return rows
end

return M
