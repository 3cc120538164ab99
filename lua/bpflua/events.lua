-- One way for a tracer to stream events, whatever the kernel offers: a ring
-- buffer where the kernel has one (5.8+), a perf buffer otherwise, or when
-- the user forces it (--perf-buffer, or BPFLUA_EVENTS=perf).
--
-- libbcc refuses map calls inside macros, so a snippet spells both paths
-- out under #ifdef BL_RINGBUF (probes/tcplife.c shows the pattern) and
-- counts the events it could not submit in a per-CPU array "events_lost".
local M = {}

local forced_perf = false

function M.force_perf(yes)
  forced_perf = yes and true or false
end

function M.use_ring()
  if forced_perf or os.getenv("BPFLUA_EVENTS") == "perf" then return false end
  return BPF.features().ringbuf
end

-- Pages of a ring buffer, for the snippets that take BL_RB_PAGES (tcplife,
-- http): nil keeps each snippet's own size, sized for a tracer drained
-- now and then; the agent drains often and keeps its memory small.
local ring_pages
function M.ring_pages(n)
  ring_pages = n
end

-- The -D options a snippet needs. drain_on_timer: the program skips the
-- wake-up per event (BPF_RB_NO_WAKEUP) and the reader drains on a timer,
-- which costs the traced workload far less than a wake-up per event.
function M.defines(defs, drain_on_timer)
  defs = defs or {}
  if M.use_ring() then
    defs.BL_RINGBUF = true
    defs.BL_RB_FLAGS = drain_on_timer and 1 or 0 -- BPF_RB_NO_WAKEUP
    defs.BL_RB_PAGES = ring_pages
  end
  return defs
end

local Reader = {}
Reader.__index = Reader

-- Opens table `name` of BPF object b for callback cb(event, size). opts:
-- timed (drained on a timer), reuse (one event table refilled: for a
-- callback that keeps nothing of it), cut ({ data = "caplen" }: a capture
-- buffer decoded only as far as its length field), page_cnt (perf buffers).
function M.open(b, name, cb, opts)
  opts = opts or {}
  local t = b:get_table(name)
  local kind = t:info().kind
  local r = setmetatable({ b = b, perf_lost = 0, ring = kind == "ringbuf",
                           timed = opts.timed }, Reader)
  if r.ring then
    t:open_ring_buffer(cb, { reuse = opts.reuse, cut = opts.cut })
  elseif kind == "perf_event_array" then
    t:open_perf_buffer(cb, { page_cnt = opts.page_cnt or 256, reuse = opts.reuse, cut = opts.cut,
                             lost_cb = function(n) r.perf_lost = r.perf_lost + n end })
  else
    error(string.format("table '%s' is a %s, not a ring or perf buffer", name, kind), 2)
  end
  local ok, lost = pcall(b.get_table, b, "events_lost")
  r.lost_table = ok and lost or nil
  return r
end

-- A timed reader drains this often: at millions of events a second, 10 ms
-- of events fit well inside a 4 MB ring buffer, and 100 wake-ups a second
-- cost the host nothing next to one per event.
local DRAIN_EVERY = 0.01

-- Waits up to ms for events and hands them to the callback. A timed reader
-- (the program does not wake it) sleeps and drains, every DRAIN_EVERY.
function Reader:poll(ms)
  if not self.ring then return self.b:perf_buffer_poll(ms) end
  if self.timed then
    local n, left = 0, ms / 1000
    repeat
      local step = math.min(DRAIN_EVERY, left)
      if step > 0 and not BPF.sleep(step) then break end
      n = n + self.b:ring_buffer_consume()
      left = left - step
    until left <= 0
    return n
  end
  return self.b:ring_buffer_poll(ms)
end

-- How full the reader's ring is, from 0 to 1; nil for a perf buffer.
function Reader:fill()
  if self.ring then return self.b:ring_buffer_fill() end
end

-- Drains whatever is queued, without waiting.
function Reader:drain()
  if self.ring then return self.b:ring_buffer_consume() end
  local n, total = 1, 0
  while n > 0 do
    n = self.b:perf_buffer_poll(0)
    total = total + n
  end
  return total
end

-- The program counts what it failed to submit; a perf buffer's kernel also
-- says so, but only when the next event fits (so a last burst goes unsaid),
-- and older kernels' perf_submit does not fail: both count the same drops,
-- so the larger is the truth.
function Reader:lost()
  local n = self.lost_table and self.lost_table:sum(0) or 0
  return math.max(n, self.perf_lost)
end

function Reader:kind()
  return self.ring and "ring buffer" or "perf buffer"
end

-- The hooks of a tracer that streams records through st.reader, counting
-- them in st.n: poll the reader, show counts on the status line, and say
-- at the end what the buffer could not hold.
function M.tracer_hooks(name, what)
  return {
    poll = function(st, _, ms) st.reader:poll(ms) end,
    status = function(st) return { events = st.n, lost = st.reader:lost() } end,
    -- extra: more counts of what was skipped (name -> n); with --format
    -- json a last object {"summary": NAME, "lost_events": N, ...} carries
    -- them whenever one is not zero
    finish = function(st, opts, extra)
      local lost = st.reader:lost()
      if lost > 0 then opts.out:note(string.format("%s: %d %s lost (the buffer was full)", name, lost, what)) end
      local row, order, any = { summary = name, lost_events = lost }, { "summary", "lost_events" }, lost > 0
      for k, v in pairs(extra or {}) do
        row[k] = v
        any = any or v ~= 0
      end
      if any and opts.format == "json" then opts.out:write(BPF.json(row, order) .. "\n") end
    end,
  }
end

return M
