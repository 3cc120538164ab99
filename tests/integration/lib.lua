-- Assertions for integration tests. Each test is a Lua script run by
-- bpflua itself as root; a failed check raises, so the process exits 1.
local M = { checks = 0 }

M.workload = os.getenv("BPFLUA_WORKLOAD") or error("BPFLUA_WORKLOAD is not set (run through ctest)")

function M.eq(got, want, what)
  M.checks = M.checks + 1
  if got ~= want then
    error(string.format("%s: got %s, want %s", what, tostring(got), tostring(want)), 2)
  end
end

function M.ok(cond, what)
  M.checks = M.checks + 1
  if not cond then error(what, 2) end
end

-- Runs the workload to completion; returns its pid.
function M.run(...)
  local cmd = M.workload .. " " .. table.concat({ ... }, " ")
  local p = io.popen(cmd, "r")
  local pid = math.tointeger(tonumber(p:read("l")))
  local rest = p:read("a")
  local ok = p:close()
  if not ok or not pid then error("workload failed: " .. cmd .. " " .. tostring(rest)) end
  return pid
end

-- File descriptors of this process that are BPF objects or perf events:
-- what a probe holds on to while attached.
function M.bpf_fds()
  local n = 0
  local p = io.popen("ls -l /proc/" .. BPF.getpid() .. "/fd 2>/dev/null")
  for line in p:lines() do
    if line:find("anon_inode:bpf") or line:find("perf_event") then n = n + 1 end
  end
  p:close()
  return n
end

function M.done(name)
  print(string.format("%s: %d checks passed", name, M.checks))
end

return M
