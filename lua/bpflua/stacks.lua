-- Stack ids to frame names, cached per stack: user stacks through the
-- process's own symbols, kernel stacks through kallsyms. A process that
-- exits takes its memory map along: the first time one of its addresses is
-- resolved, core/symbols.c snapshots its mappings and holds its files, so
-- its later stacks still resolve once it is gone. Tracers resolve stacks as
-- they appear (every `every` seconds from their poll), and the process a
-- tracer follows (-p, -c) is snapshotted as soon as it runs.
local M = {}

local Resolver = {}
Resolver.__index = Resolver

-- b: the BPF object; table: its BPF_STACK_TRACE table
function M.resolver(b, table)
  return setmetatable({ b = b, t = table, user = {}, kernel = {} }, Resolver)
end

-- innermost frame first
function Resolver:user_frames(pid, id)
  local key = pid .. ":" .. id
  local frames = self.user[key]
  if not frames then
    frames = {}
    for ip in self.t:walk(id) do frames[#frames + 1] = self.b:sym(ip, pid) end
    self.user[key] = frames
  end
  return frames
end

function Resolver:kernel_frames(id)
  local frames = self.kernel[id]
  if not frames then
    frames = {}
    for ip in self.t:walk(id) do frames[#frames + 1] = BPF.ksym(ip) end
    self.kernel[id] = frames
  end
  return frames
end

-- How often the followed process's mappings are looked at while the poll
-- sleeps: a command that runs for less than this leaves no snapshot.
M.WATCH_EVERY = 0.02

-- Sleeps ms milliseconds; meanwhile the followed process's mappings, and
-- those of the processes it started, are snapshotted every WATCH_EVERY
-- seconds (re-read when a tenth of a second old), so a short command's
-- stacks resolve after it exits. Never at once: a command just released
-- may not have replaced bpflua's image yet.
function M.sleep_watching(pid, ms)
  local left = ms / 1000
  while left > 0 do
    local step = pid and math.min(left, M.WATCH_EVERY) or left
    if not BPF.sleep(step) then return false end
    left = left - step
    if pid then BPF.sym_snapshot(pid, 100, true) end
  end
  return true
end

-- A tracer's poll: sleep, then call resolve(st) every `every` seconds.
function M.poll_resolving(every, resolve)
  return function(st, opts, ms)
    if ms > 0 then M.sleep_watching(opts and opts.pid, ms) end
    if BPF.monotonic() - (st.last_resolve or 0) >= every then
      resolve(st)
      st.last_resolve = BPF.monotonic()
    end
  end
end

return M
