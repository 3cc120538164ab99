-- Reusable BPF C snippets live in probes/NAME.c; tracers compile them with
-- -D options instead of pasting C together.
local M = {}

local function probes_dir()
  return BPF.probes_dir
end

local function read(path)
  local f, err = io.open(path, "r")
  if not f then return nil, err end
  local s = f:read("a")
  f:close()
  return s
end

-- A shared snippet header's text (probes/NAME), for generated programs.
function M.header(name)
  local text, err = read(probes_dir() .. "/" .. name)
  if not text then error("no probe header " .. name .. ": " .. err, 2) end
  return text
end

-- A snippet's text, with its #include "X.h" lines of shared snippet headers
-- (probes/X.h) written in place: the text libbcc compiles, and the cache
-- keys on, is then the whole program. #line keeps compiler messages
-- pointing at the snippet's and the header's own lines.
function M.text(name)
  local path = probes_dir() .. "/" .. name .. ".c"
  local src, err = read(path)
  if not src then error("no probe snippet " .. name .. ": " .. err, 2) end
  return M.expand(src, "probes/" .. name .. ".c")
end

-- The same for any C text (a generated one-liner: file nil, no #line).
function M.expand(src, file)
  local out, n = { file and string.format('#line 1 "%s"', file) }, 0
  for line in (src .. (src:sub(-1) == "\n" and "" or "\n")):gmatch("(.-)\n") do
    n = n + 1
    local header = line:match('^#include "([%w_]+%.h)"')
    local text = header and read(probes_dir() .. "/" .. header)
    if text then
      if file then out[#out + 1] = string.format('#line 1 "probes/%s"', header) end
      out[#out + 1] = text
      if file then out[#out + 1] = string.format('#line %d "%s"', n + 1, file) end
    else
      out[#out + 1] = line
    end
  end
  return table.concat(out, "\n")
end

-- BPF{} over a snippet with defines: defs = { FILTER_NR = 39, FLAG = true }.
-- Values that change from run to run (pids, limits) go in `config`
-- instead: a snippet with a `config` array (ready, filter_pid, exclude_pid,
-- max_events) gets them at run time, so its compiled program is cached once
-- for every run. The snippet ignores events until `ready` is set, which
-- happens last.
function M.load(name, defs, config)
  local cflags = {}
  for k, v in pairs(defs or {}) do
    if v == true then
      cflags[#cflags + 1] = "-D" .. k
    elseif v then
      cflags[#cflags + 1] = "-D" .. k .. "=" .. tostring(v)
    end
  end
  table.sort(cflags)
  local b = BPF{ text = M.text(name), cflags = cflags }
  if config then M.configure(b, config) end
  return b
end

-- the pids whose parent is in `set`, repeatedly: a process's live descendants
local function descendants(set)
  local parent = {}
  for _, d in ipairs(BPF.listdir("/proc") or {}) do
    local pid = math.tointeger(tonumber(d))
    local f = pid and io.open("/proc/" .. d .. "/stat", "r")
    if f then
      local stat = f:read("a") or ""
      f:close()
      local ppid = math.tointeger(tonumber(stat:match("%) %a (%d+)")))
      if ppid then parent[pid] = ppid end
    end
  end
  local grew = true
  while grew do
    grew = false
    for pid, ppid in pairs(parent) do
      if set[ppid] and not set[pid] then
        set[pid], grew = true, true
      end
    end
  end
  return set
end

-- the pids in a cgroup directory and the ones below it
local function cgroup_pids(dir, set)
  local f = io.open(dir .. "/cgroup.procs", "r")
  if f then
    for line in f:lines() do
      local pid = math.tointeger(tonumber(line))
      if pid then set[pid] = true end
    end
    f:close()
  end
  for _, d in ipairs(BPF.listdir(dir) or {}) do
    local sub = dir .. "/" .. d
    local t = io.open(sub .. "/cgroup.procs", "r")
    if t then
      t:close()
      cgroup_pids(sub, set)
    end
  end
  return set
end

-- Sets a loaded snippet's config (config.h): { filter_pid, exclude_pid,
-- max_events, children, cgroup = { id, level, path }, fork_hooks (attach
-- the fork and exit hooks anyway: -DBL_PARENTS keeps every parent) }. Following children
-- (or a cgroup's processes where an event is seen outside them) attaches
-- the fork and exit tracepoints, and then, once forks are followed, adds
-- the processes already there: none is missed between the two. Fields left
-- out are zero.
function M.configure(b, config)
  local follow = (config.children and config.filter_pid) or config.cgroup
  if follow or config.exit_cgroups or config.fork_hooks then
    b:attach_tracepoint{ tp = "sched:sched_process_fork", fn_name = "bl_follow_fork" }
    b:attach_tracepoint{ tp = "sched:sched_process_exit", fn_name = "bl_follow_exit" }
  end
  b:get_table("config"):set(0, { ready = 1, filter_pid = config.filter_pid, exclude_pid = config.exclude_pid,
                                 children = (config.children and config.filter_pid) and 1 or 0,
                                 cgroup_id = config.cgroup and config.cgroup.id or 0,
                                 cgroup_level = config.cgroup and config.cgroup.level or 0,
                                 exit_cgroups = config.exit_cgroups and 1 or 0,
                                 max_events = config.max_events or (1 << 62) })
  if config.exit_cgroups then M.exit_cgroups[#M.exit_cgroups + 1] = b:get_table("bl_exit_cgroup") end
  if follow then
    local known = {}
    if config.children and config.filter_pid then known = descendants({ [config.filter_pid] = true }) end
    if config.cgroup then cgroup_pids(config.cgroup.path, known) end
    local tgids = b:get_table("bl_tgids")
    for pid in pairs(known) do
      if pid ~= config.filter_pid then tgids:set(pid, 1) end
    end
  end
end

-- The tables of exited processes' cgroups (config.exit_cgroups), weak
M.exit_cgroups = setmetatable({}, { __mode = "v" })

-- The cgroup id a traced process had as it exited, or nil.
function M.exit_cgroup(pid)
  for _, t in pairs(M.exit_cgroups) do
    local ok, id = pcall(t.get, t, pid)
    if ok and id then return id end
  end
end

-- The config a tracer's options ask for: -p/-c (and --children; a -c
-- command's children always), --cgroup, and the tracer itself left out.
-- extra: fields of the tracer's own (max_events).
function M.who(opts, extra)
  local c = { filter_pid = opts.pid, exclude_pid = BPF.getpid(),
              children = opts.children or opts.command ~= nil or opts.command_argv ~= nil,
              cgroup = opts.cgroup_info, exit_cgroups = opts.container }
  for k, v in pairs(extra or {}) do c[k] = v end
  return c
end

-- Where a cgroup v2 directory is: { path, id, level }, or nil and why not.
function M.cgroup(path)
  return require("bpflua.cgroups").lookup(path)
end

-- The integer #defines of a shared snippet header (probes/NAME.h), so a
-- tracer reads the constants its BPF half was compiled with instead of
-- restating them: probe.constants("http.h").BL_TLS_FD.
local constants = {}
function M.constants(header)
  if constants[header] then return constants[header] end
  local src, err = read(probes_dir() .. "/" .. header)
  if not src then error("no probe header " .. header .. ": " .. err, 2) end
  local t = {}
  for name, value in src:gmatch("#define[ \t]+([%w_]+)[ \t]+%(?(%-?[%dxXa-fA-F]+)%)?") do
    t[name] = math.tointeger(tonumber(value))
  end
  constants[header] = t
  return t
end

local function tracepoint_exists(name)
  local cat, ev = name:match("^([^:]+):([^:]+)$")
  local dir = BPF.features().tracefs
  if not cat or not dir then return false end
  local f = io.open(dir .. "/events/" .. cat .. "/" .. ev .. "/format", "r")
  if f then f:close() end
  return f ~= nil
end

local function kernel_function_exists(name)
  local f = io.open("/proc/kallsyms", "r")
  if not f then return false end
  for line in f:lines() do
    local sym = line:match("^%x+ %a (%S+)")
    if sym == name then
      f:close()
      return true
    end
  end
  f:close()
  return false
end

-- Picks the first attach point this kernel has, from a list in order of
-- preference: { {"tracepoint", "sock:inet_sock_set_state"},
-- {"kprobe", "tcp_set_state"} }. Tracepoints are stable and need no
-- headers; kprobes are the fallback on kernels that lack the tracepoint.
-- Returns kind, name; raises a "missing" error naming what is missing.
function M.choose(what, candidates)
  local missing = {}
  local f = BPF.features()
  for _, c in ipairs(candidates) do
    local kind, name = c[1], c[2]
    if kind == "tracepoint" then
      if tracepoint_exists(name) then return kind, name end
      missing[#missing + 1] = "tracepoint " .. name .. " does not exist on this kernel"
    elseif kind == "kprobe" or kind == "kretprobe" then
      if not f.kprobes then
        missing[#missing + 1] = string.format("%s %s needs kprobes, which this kernel lacks (CONFIG_KPROBES=%s)",
                                              kind, name, f.config_kprobes or "unknown")
      elseif not kernel_function_exists(name) then
        missing[#missing + 1] = string.format("%s %s: no such kernel function in /proc/kallsyms", kind, name)
      else
        return kind, name
      end
    else
      return kind, name
    end
  end
  error(BPF.error("missing", string.format("cannot trace %s on this host:\n  %s", what, table.concat(missing, "\n  ")),
                  "(`bpflua doctor` shows what this host supports)"))
end

return M
