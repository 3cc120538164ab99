-- The interactive side of bpflua: the REPL's evaluation and completion
-- (the line editing is C, core/repl.c), `bpflua -e CODE`, and scripts on
-- standard input.
local oneliner = require("bpflua.oneliner")

local pretty = require("bpflua.pretty")

local M = {}

-- Text the REPL shows after a statement; nil outside the REPL, where it is
-- written at once. The terminal side (core/repl.c) pages it when long.
local shown

local function emit(text)
  if shown then shown[#shown + 1] = text else io.write(text, "\n") end
end

-- The BPF objects this session has held in a global, in the order first
-- seen; weak, so an object the user drops is collected and detached.
local seen = setmetatable({}, { __mode = "k" })
local nseen = 0

local function note(v)
  if pretty.is_bpf_object(v) and not seen[v] then
    nseen = nseen + 1
    seen[v] = nseen
  end
end

local function name_of(env, v)
  for k, x in next, env do
    if rawequal(x, v) and type(k) == "string" then return k end
  end
end

local function live_objects(env)
  for _, v in next, env do note(v) end
  local list = {}
  for b, order in pairs(seen) do
    if pcall(b.tables, b) then list[#list + 1] = { b = b, order = order } end
  end
  table.sort(list, function(x, y) return x.order < y.order end)
  for i, e in ipairs(list) do list[i] = { b = e.b, name = name_of(env, e.b) or "(BPF{})" } end
  for _, h in ipairs(oneliner.active) do
    list[#list + 1] = { b = h.b, handle = h, name = name_of(env, h) or "(" .. h.action .. "{})" }
  end
  return list
end

local function listing(lines, empty)
  if #lines == 0 then lines[1] = empty end
  return setmetatable(lines, { __tostring = function(t) return table.concat(t, "\n") end })
end

-- tables() and :tables: every table of every object this session loaded.
local function tables(env)
  local lines = {}
  for _, o in ipairs(live_objects(env)) do
    local what = o.handle and string.format("  %s{ %s }", o.handle.action, BPF.printable(o.handle.probe)) or ""
    for _, n in ipairs(o.b:tables()) do
      local t = o.b:get_table(n)
      local i = t:info()
      local count = #t
      lines[#lines + 1] = string.format("%-10s %-16s %-12s %-22s key %d B, value %d B%s",
        BPF.printable(o.name), BPF.printable(n), i.kind,
        string.format("%d/%d entr%s", count, i.max_entries, count == 1 and "y" or "ies"), i.key_size, i.value_size, what)
    end
  end
  return listing(lines, "no BPF tables loaded (b = BPF{ text = ... } or count{...} loads some)")
end

-- Every probe attached by this session, numbered for detach(N).
local function probe_list(env)
  local list = {}
  for _, o in ipairs(live_objects(env)) do
    for i, d in ipairs(o.b:attached()) do
      list[#list + 1] = { o = o, index = i, desc = d }
    end
  end
  return list
end

local function attached(env)
  local lines = {}
  for n, e in ipairs(probe_list(env)) do
    lines[n] = string.format("%3d  %-10s %s%s", n, BPF.printable(e.o.name), BPF.printable(e.desc),
      e.o.handle and string.format("  (%s{})", e.o.handle.action) or "")
  end
  return listing(lines, "nothing attached")
end

local function fail(msg) error(BPF.error("usage", msg), 0) end

local SPEC_PREFIX = { t = "tracepoint", rt = "raw_tracepoint", u = "uprobe", ur = "uretprobe",
                      k = "kprobe", kr = "kretprobe" }

-- detach(N), detach(handle or object or its global's name), detach("spec")
local function detach(env, what)
  local list = probe_list(env)
  if type(what) == "string" and tonumber(what) then what = math.tointeger(tonumber(what)) end
  if type(what) == "string" and env[what] ~= nil and not what:find(":") then what = env[what] end
  local function stop_handle(h, desc)
    local n = #h.b:attached()
    h:stop()
    return string.format("detached %s (%s{} stopped%s)", BPF.printable(desc), h.action,
      n > 1 and string.format(", with its %d probes", n) or "")
  end
  if math.type(what) == "integer" then
    local e = list[what]
    if not e then fail(string.format("no probe %d: attached() lists %d", what, #list)) end
    if e.o.handle then return stop_handle(e.o.handle, e.desc) end
    return "detached " .. BPF.printable(e.o.b:detach(e.index))
  elseif type(what) == "table" and what.action and what.stop then
    if what.closed then return "already stopped" end
    return stop_handle(what, what.probe)
  elseif pretty.is_bpf_object(what) then
    local ok, n = pcall(what.attached, what)
    what:cleanup()
    return string.format("cleaned up the object (%d probe%s detached, its tables freed)",
      ok and #n or 0, ok and #n == 1 and "" or "s")
  elseif type(what) == "string" then
    local kind, rest = what:match("^([%a_]+):(.*)$")
    local full = kind and SPEC_PREFIX[kind] and (SPEC_PREFIX[kind] .. ":" .. rest) or what
    local hits = {}
    for n, e in ipairs(list) do
      if e.desc == full or e.desc == what then hits[#hits + 1] = n end
    end
    if #hits == 0 then fail(string.format("nothing attached to %s (attached() lists what is)", BPF.printable(what))) end
    if #hits > 1 then
      fail(string.format("%s is attached %d times (probes %s): detach(N) picks one", BPF.printable(what), #hits,
        table.concat(hits, ", ")))
    end
    return detach(env, hits[1])
  end
  fail("detach(N) takes a probe's number from attached() (:probes), a handle, a BPF object or a probe spec")
end

function M.env()
  local env = setmetatable({}, { __index = _G })
  local help = require("bpflua.help")
  oneliner.install(env)
  env.probes = function(...) return pretty.names(oneliner.probes(...)) end
  env.help = function(...) emit(help.text(...)) end
  env.tables = function() return tables(env) end
  env.attached = function() return attached(env) end
  env.detach = function(what) emit(detach(env, what)) end
  for _, n in ipairs({ "probes", "help", "tables", "attached", "detach" }) do help.register(n, env[n]) end
  pretty.describe_function = function(f, short)
    if f == env.help and not short then return help.OVERVIEW end
    return help.signature(f, short)
  end
  return env
end

local function traceback(msg)
  if BPF.is_error(msg) then return tostring(msg) end -- no traceback for those
  msg = tostring(msg)
  return debug.traceback(msg, 2)
end

-- :tables, :probes, :detach N, :help TOPIC
local COMMANDS = {
  tables = function(env) return tostring(tables(env)) end,
  probes = function(env) return tostring(attached(env)) end,
  detach = function(env, arg)
    if arg == "" then
      return tostring(attached(env)) .. "\n:detach N detaches probe N (or a variable's name, or a probe spec)"
    end
    return detach(env, arg)
  end,
  help = function(env, arg)
    if arg == "" then return require("bpflua.help").text() end
    return require("bpflua.help").text(env[arg] ~= nil and env[arg] or arg)
  end,
}

local function command(env, name, arg)
  local cmd = COMMANDS[name]
  if not cmd then
    io.stderr:write(string.format("unknown command :%s (:tables, :probes, :detach N, :help)\n", BPF.printable(name)))
    return "error"
  end
  local ok, text = xpcall(cmd, traceback, env, arg)
  if not ok then
    io.stderr:write(tostring(text), "\n")
    return "error"
  end
  return "ok", text
end

-- Iterators typed alone are shown as the rows a for loop would see: a
-- statement ending in a call of one of these, or a BPF table's items().
local ITERATORS = { items = true, pairs = true, ipairs = true, gmatch = true, lines = true, walk = true }

local function is_iterator(code, f)
  if type(f) ~= "function" then return false end
  local name = code:match("([%a_][%w_]*)%s*%b()%s*;?%s*$")
  if name and ITERATORS[name] then return true end
  local ok, _, up = pcall(debug.getupvalue, f, 1)
  return ok and pretty.is_bpf_table(up)
end

local function show(code, results, width)
  local first = results[2]
  if results.n <= 4 and is_iterator(code, first) then
    return table.concat(pretty.iterate(first, results[3], results[4], width), "\n")
  end
  local blocks, one_line = {}, true
  for i = 2, results.n do
    note(results[i])
    blocks[#blocks + 1] = pretty.show(results[i], width)
    if blocks[#blocks]:find("\n") then one_line = false end
  end
  return table.concat(blocks, one_line and "\t" or "\n")
end

-- Evaluates a chunk the user typed. Returns "incomplete" when more lines
-- are needed (an open block or long string), else "ok" or "error" after
-- printing the message, as Lua's own REPL does; "ok" comes with the text
-- that shows the results (width: the terminal's columns).
function M.eval(env, code, width)
  width = math.max(20, tonumber(width) or 80)
  local name, arg = code:match("^%s*:(%a+)%s*(.-)%s*$")
  if name then return command(env, name, arg) end
  local fn, err = load("return " .. code, "=stdin", "t", env)
  if not fn then
    fn, err = load(code, "=stdin", "t", env)
  end
  if not fn then
    if err:find("<eof>$") then return "incomplete" end
    io.stderr:write(err, "\n")
    return "error"
  end
  shown = {}
  local results = table.pack(xpcall(fn, traceback))
  local text
  if results[1] and results.n > 1 then
    local ok, t = xpcall(show, traceback, code, results, width)
    if ok then text = t else results = { false, t } end
  end
  local out = shown
  shown = nil
  if text then out[#out + 1] = text end
  if not results[1] then
    if #out > 0 then io.write(table.concat(out, "\n"), "\n") end
    io.stderr:write(tostring(results[2]), "\n")
    -- whatever the failed statement made and nobody holds is detached now
    collectgarbage()
    collectgarbage()
    return "error"
  end
  for _, v in next, env do note(v) end
  if #out == 0 then return "ok" end
  return "ok", table.concat(out, "\n")
end

local function add_keys(out, t, prefix, sep, word)
  local seen = {}
  local function walk(tbl)
    for k in pairs(tbl) do
      if type(k) == "string" and not seen[k] and (prefix .. sep .. k):sub(1, #word) == word then
        seen[k] = true
        out[#out + 1] = prefix .. sep .. k
      end
    end
  end
  if type(t) == "table" then walk(t) end
  local mt = getmetatable(t)
  if mt and type(mt.__index) == "table" then walk(mt.__index) end
  if mt and type(mt.__methods) == "table" then walk(mt.__methods) end -- BPF objects
end

-- Completions for word (the text under the cursor): probe specs from
-- tracefs and from a binary's symbols, API and global names, methods.
function M.complete(env, word)
  local out = {}
  local kind, rest = word:match("^([%a_]+):(.*)$")
  if kind == "t" or kind == "tracepoint" then
    for _, tp in ipairs(oneliner.tracepoints(rest .. "*")) do out[#out + 1] = kind .. ":" .. tp end
    return out
  elseif kind == "u" or kind == "uprobe" or kind == "ur" or kind == "uretprobe" then
    local path, sym = rest:match("^(.+):([^:]*)$")
    if path then
      local ok, syms = pcall(BPF.elf_functions, path)
      if ok then
        for _, s in ipairs(syms) do
          if s:sub(1, #sym) == sym then out[#out + 1] = kind .. ":" .. path .. ":" .. s end
        end
        table.sort(out)
      end
    end
    return out
  end
  local base, sep = word:match("^(.-)([.:])[%w_]*$")
  if base and base ~= "" then
    local v = env
    for part in base:gmatch("[^.]+") do
      v = type(v) == "table" and v[part] or nil
    end
    if type(v) == "table" then
      add_keys(out, v, base, sep, word)
    elseif type(v) == "userdata" then
      local mt = getmetatable(v)
      if mt and type(mt.__index) == "table" then add_keys(out, mt.__index, base, sep, word) end
      -- a BPF object's table names, for get_table("...
      if sep == ":" and type(v.tables) == "function" then
        for _, name in ipairs(v:tables()) do out[#out + 1] = name end
      end
    end
  else
    add_keys(out, env, "", "", word)
  end
  table.sort(out)
  return out
end

-- `bpflua -e CODE` and scripts on stdin: run, then stream trace events and
-- wait (for SECONDS, or until Ctrl-C) if probes are attached, then print
-- the aggregations. The probes detach as the host closes the Lua state:
-- at a clean exit the kernel's slow part of that happens in the background
-- (core/attach/attach.c), which matters with hundreds of tracepoints.
function M.run(code, chunkname, seconds)
  local env = M.env()
  local fn, err = load(code, chunkname, "t", env)
  if not fn then error(BPF.error("failed", err)) end
  fn()
  if #oneliner.active > 0 then
    local nagg = 0
    for _, h in ipairs(oneliner.active) do
      if h.action ~= "trace" then nagg = nagg + 1 end
    end
    io.stderr:write(string.format("Attached %d probe%s%s. %s\n", #oneliner.active,
      #oneliner.active == 1 and "" or "s", seconds and string.format(" for %g s", seconds) or "",
      seconds and "" or "Ctrl-C to end."))
    oneliner.wait(seconds)
    if nagg > 0 then print() end
    oneliner.print_all()
  end
  return 0
end

return M
