-- Stack ids to frame names, cached per stack: user stacks through the
-- process's own symbols, kernel stacks through kallsyms. A process that
-- exits takes its memory map along, so tracers resolve stacks as they
-- appear (every `every` seconds from their poll), not only at the end.
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

-- A tracer's poll: sleep, then call resolve(st) every `every` seconds.
function M.poll_resolving(every, resolve)
  return function(st, _, ms)
    if ms > 0 then BPF.sleep(ms / 1000) end
    if BPF.monotonic() - (st.last_resolve or 0) >= every then
      resolve(st)
      st.last_resolve = BPF.monotonic()
    end
  end
end

return M
