-- Bad input gets a specific message, and a failed step leaves nothing
-- attached or open in the process.
local t = dofile(arg[0]:match("(.*/)") .. "lib.lua")

local function fails(what, f, pattern)
  local before = t.bpf_fds()
  local ok, err = pcall(f)
  t.ok(not ok, what .. ": expected an error")
  err = tostring(err)
  t.ok(err:find(pattern), string.format("%s: message %q lacks %q", what, err, pattern))
  collectgarbage()
  t.eq(t.bpf_fds(), before, what .. ": BPF fds left open")
  return err
end

-- compile error: clang's message with the line
local err = fails("bad C", function()
  return BPF{ text = "int f(void *ctx) {\n  return undeclared_thing;\n}\n" }
end, "failed to compile")
t.ok(err:find("undeclared_thing") and err:find(":2:"), "compile error names the identifier and line 2: " .. err)

-- a tracepoint that does not exist: named, with suggestions
err = fails("missing tracepoint", function()
  return BPF{ text = "TRACEPOINT_PROBE(syscalls, sys_enter_getppidd) { return 0; }" }
end, "not found")
fails("missing tracepoint by attach", function()
  local b = BPF{ text = "int f(void *ctx) { return 0; }" }
  b:attach_tracepoint{ tp = "syscalls:sys_enter_getppidd", fn_name = "f" }
end, "tracepoint syscalls:sys_enter_getppidd not found; did you mean .*sys_enter_getppid")
fails("missing category", function()
  local b = BPF{ text = "int f(void *ctx) { return 0; }" }
  b:attach_tracepoint{ tp = "nosuchcat:x", fn_name = "f" }
end, "category 'nosuchcat' not found")

-- an earlier attach of the same object is undone when a later one fails
fails("partial auto-attach", function()
  return BPF{ text = [[
TRACEPOINT_PROBE(syscalls, sys_enter_getppid) { return 0; }
TRACEPOINT_PROBE(syscalls, sys_enter_nosuchcall) { return 0; }
]] }
end, "not found")

-- missing function
fails("missing function", function()
  local b = BPF{ text = "int f(void *ctx) { return 0; }" }
  b:attach_tracepoint{ tp = "syscalls:sys_enter_getppid", fn_name = "g" }
end, "no BPF function named 'g'")

-- verifier rejection: the log's last lines
err = fails("verifier", function()
  local b = BPF{ text = [[
BPF_HASH(h, u32, u64);
int f(void *ctx) { u32 k = 0; u64 *v = h.lookup(&k); return *v; /* no NULL check */ }
]] }
  b:attach_tracepoint{ tp = "syscalls:sys_enter_getppid", fn_name = "f" }
end, "verifier rejected f")
t.ok(err:find("invalid mem access"), "verifier log lines shown: " .. err)

-- kprobes on a kernel without them
if not BPF.features().kprobes then
  fails("kprobe", function()
    local b = BPF{ text = "int f(void *ctx) { return 0; }" }
    b:attach_kprobe{ event = "tcp_v4_connect", fn_name = "f" }
  end, "kprobes are not supported by this kernel")
end

-- tracers pick their attach point by what this kernel has
local probe = require("bpflua.probe")
local kind, name = probe.choose("getppid", { { "tracepoint", "syscalls:sys_enter_nosuchcall" },
                                              { "tracepoint", "syscalls:sys_enter_getppid" } })
t.eq(kind .. " " .. name, "tracepoint syscalls:sys_enter_getppid", "first existing tracepoint chosen")
if not BPF.features().kprobes then
  local ok, err = pcall(probe.choose, "TCP state changes", { { "tracepoint", "sock:no_such_state" },
                                                             { "kprobe", "tcp_set_state" } })
  err = tostring(err)
  t.ok(not ok and err:find("tracepoint sock:no_such_state does not exist", 1, true)
       and err:find("needs kprobes, which this kernel lacks", 1, true), "no attach point: " .. err)
end

-- a Lua error inside an event callback surfaces from the poll
fails("callback error", function()
  local b = BPF{ text = [[
BPF_PERF_OUTPUT(ev);
TRACEPOINT_PROBE(syscalls, sys_enter_getppid) { u32 x = 1; ev.perf_submit(args, &x, sizeof(x)); return 0; }
]] }
  b:get_table("ev"):open_perf_buffer(function() error("boom in callback") end)
  t.run("getppid", 10)
  b:perf_buffer_poll(100)
end, "boom in callback")

-- using an object after cleanup
fails("after cleanup", function()
  local b = BPF{ text = "BPF_HASH(h, u32, u32);" }
  local h = b:get_table("h")
  b:cleanup()
  h:get(1)
end, "cleaned up")

t.done("errors")
