-- The interactive side of bpflua: the REPL's evaluation and completion
-- (the line editing is C, core/repl.c), `bpflua -e CODE`, and scripts on
-- standard input.
local oneliner = require("bpflua.oneliner")

local M = {}

local HELP = [==[
bpflua REPL: Lua 5.4 with the BPF API and one-liners.
  count{ "t:syscalls:sys_enter_openat", by = "comm" }    count events by key
  hist{ "t:syscalls:sys_exit_read", value = "args.ret" } log2 histogram
  hist{ "t:syscalls:sys_enter_nanosleep", to = "t:syscalls:sys_exit_nanosleep" }
                                  latency (elapsed, unit = "us" by default)
  sum{...} avg{...}  (value = "C expression")            totals and means
  trace{ "u:c:malloc", fields = { "arg0" } }             one line per event
  keys (by) and fields: pid tid comm cpu uid stack ustack args.NAME arg0..5 retval
  filter = "C expression", e.g. "pid == 42" or "comm_is(\"bash\")"
  probes("t:syscalls:*open*")   list probe names (u:/path:sym* for uprobes)
  h = count{...}; print(h); h:clear(); h:stop()          read, reset, detach
  wait(5)                         stream trace events for 5 s (Ctrl-C stops)
  b = BPF{ text = [[ C ]] }       BCC's API: b:get_table("name"), b:attach_uprobe{...}
Ctrl-C stops a running statement, Ctrl-D leaves (everything is detached).]==]

function M.env()
  local env = setmetatable({}, { __index = _G })
  oneliner.install(env)
  env.help = function() print(HELP) end
  return env
end

local function traceback(msg)
  if type(msg) == "table" and msg.plain then return msg.plain end
  msg = tostring(msg)
  if msg:find("interrupted") and #msg < 64 then return "interrupted" end
  return debug.traceback(msg, 2)
end

-- Evaluates a chunk the user typed. Returns "incomplete" when more lines
-- are needed (an open block or long string), else "ok" or "error" after
-- printing the results or the message, as Lua's own REPL does.
function M.eval(env, code)
  local fn, err = load("return " .. code, "=stdin", "t", env)
  if not fn then
    fn, err = load(code, "=stdin", "t", env)
  end
  if not fn then
    if err:find("<eof>$") then return "incomplete" end
    io.stderr:write(err, "\n")
    return "error"
  end
  local results = table.pack(xpcall(fn, traceback))
  if not results[1] then
    io.stderr:write(tostring(results[2]), "\n")
    -- whatever the failed statement made and nobody holds is detached now
    collectgarbage()
    collectgarbage()
    return "error"
  end
  if results.n > 1 then
    local out = {}
    for i = 2, results.n do out[#out + 1] = tostring(results[i]) end
    print(table.concat(out, "\t"))
  end
  return "ok"
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
  if not fn then error({ plain = err }) end
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
