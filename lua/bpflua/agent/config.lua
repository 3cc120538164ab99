-- The agent's configuration: a Lua file returning a table. Every key is
-- checked before anything starts; a bad one is reported with the key and
-- the file:line where it is set.
local M = {}

local function int(min, max)
  local want = max and string.format("an integer from %d to %d", min, max) or string.format("an integer of at least %d", min)
  return function(v)
    if math.type(v) ~= "integer" or v < min or (max and v > max) then return nil, want end
    return v
  end
end

local function positive(v)
  if type(v) ~= "number" or v ~= v or v <= 0 or v == math.huge then return nil, "a positive number of seconds" end
  return v
end

local function bool(v)
  if type(v) ~= "boolean" then return nil, "true or false" end
  return v
end

local function pow2_pages(v)
  if math.type(v) ~= "integer" or v < 1 or v > 65536 or v & (v - 1) ~= 0 then
    return nil, "a power of 2 from 1 to 65536 (pages of 4 KiB)"
  end
  return v
end

local function str(v)
  if type(v) ~= "string" or v == "" then return nil, "a non-empty string" end
  return v
end

local function comm(v)
  if type(v) ~= "string" or v == "" or #v > 15 or v:find('[%c"\\]') then
    return nil, "a command name of 1 to 15 plain characters"
  end
  return v
end

local function names(v)
  if type(v) ~= "table" then return nil, "a list of names" end
  for i, x in ipairs(v) do
    if type(x) ~= "string" or x == "" then return nil, string.format("a list of names (item %d is not one)", i) end
  end
  for k in pairs(v) do
    if math.type(k) ~= "integer" then return nil, "a list of names, not a table with key " .. tostring(k) end
  end
  return v
end

-- key -> check (value or nil and what it wants), default; tables nest
local SCHEMA = {
  sample_rate = { int(1, 100000), 99, help = "CPU profile samples per second per CPU" },
  duration = { positive, nil, help = "stop after SECONDS (default: until stopped)" },
  max_samples = { int(1), 100000, help = "CPU profile samples kept per interval" },
  interval = { positive, 10, help = "seconds between OTLP exports and profile sample budgets" },
  max_series = { int(1, 1000000), 1000, help = "series per metric family; the rest are counted as dropped" },
  -- 2 MiB each for the TCP and HTTP events: at 500 requests a second
  -- (5 events of ~200 bytes each: the captured bytes alone) the loop's
  -- 500 ms between drains fills a eighth of it, and a ring's pages count
  -- toward the agent's RSS once touched
  ring_buffer_pages = { pow2_pages, 512, help = "ring buffer pages (4 KiB) of each event stream" },
  listen = { str, "127.0.0.1:9435", help = "ADDR:PORT for /metrics and /debug/pprof" },
  otlp_endpoint = { str, nil, help = "OTLP/HTTP base URL (also --otlp, OTEL_EXPORTER_OTLP_ENDPOINT)" },
  service_name = { str, nil, help = "OTLP service.name (also OTEL_SERVICE_NAME)" },
  enable_cpu_profiling = { bool, true },
  enable_network_tracing = { bool, true },
  enable_syscall_tracing = { bool, true },
  enable_memory_tracing = { bool, false },
  exporters = { names, {}, help = "metric exporter declarations by name (exporters/) or path" },
  syscalls = { table = {
    comm = { comm, nil, help = "only processes with this command name" },
    pid = { int(1, 4194304), nil },
    latency = { bool, true, help = "latency histograms per syscall" },
  } },
  network = { table = {
    tcp = { bool, true }, udp = { bool, true }, http = { bool, true },
    tls = { bool, true, help = "HTTPS through OpenSSL uprobes" },
    pid = { int(1, 4194304), nil },
    port = { int(1, 65535), nil, help = "only TCP sessions and HTTP requests with this local or remote port" },
  } },
  profile = { table = {
    stack_storage = { int(16, 1048576), 8192 },
    idle = { bool, false },
    pid = { int(1, 4194304), nil },
  } },
  memory = { table = {
    pid = { int(1, 4194304), nil },
    comm = { comm, nil, help = "the first process with this command name" },
  } },
}

-- the line in the file's text where path (a list of keys) is set: the
-- first `key =` after the line its parent is set on
local function line_of(text, path)
  if not text then return nil end
  local lines = {}
  for l in (text .. "\n"):gmatch("(.-)\r?\n") do lines[#lines + 1] = l end
  local from, found = 1, nil
  for _, key in ipairs(path) do
    found = nil
    local pat = "%f[%w_]" .. key:gsub("%W", "%%%0") .. "%f[^%w_]%s*="
    local pat2 = "%[%s*[\"']" .. key:gsub("%W", "%%%0") .. "[\"']%s*%]%s*="
    for i = from, #lines do
      local l = lines[i]:gsub("%-%-.*$", "")
      if l:find(pat) or l:find(pat2) then
        found = i
        break
      end
    end
    if not found then return nil end
    from = found
  end
  return found
end

local function fail(file, text, path, msg)
  local line = line_of(text, path)
  error(BPF.error("usage", string.format("%s:%s: %s", file, line or "?", msg)), 0)
end

local function did_you_mean(key, schema)
  local best, bd
  for k in pairs(schema) do
    -- shared prefix or suffix of some length: good enough for typos of words
    local d = 0
    for i = 1, math.min(#k, #key) do if k:sub(i, i) == key:sub(i, i) then d = d + 1 end end
    if d > (bd or 0) and d >= math.min(#k, #key) - 2 then best, bd = k, d end
  end
  return best and (" (did you mean " .. best .. "?)") or ""
end

local function check(file, text, tbl, schema, prefix, out)
  for k, v in pairs(tbl) do
    local path = { table.unpack(prefix) }
    path[#path + 1] = tostring(k)
    local name = table.concat(path, ".")
    local spec = type(k) == "string" and schema[k]
    if not spec then
      fail(file, text, path, string.format("unknown key '%s'%s", name, type(k) == "string" and did_you_mean(k, schema) or ""))
    end
    if spec.table then
      if type(v) ~= "table" then fail(file, text, path, string.format("key '%s' wants a table, not %s", name, type(v))) end
      out[k] = {}
      check(file, text, v, spec.table, path, out[k])
    else
      local ok, want = spec[1](v)
      if ok == nil then
        local shown = type(v) == "string" and ("'" .. v .. "'") or tostring(v)
        fail(file, text, path, string.format("key '%s' wants %s, not %s", name, want, shown))
      end
      out[k] = ok
    end
  end
  for k, spec in pairs(schema) do
    if out[k] == nil then
      if spec.table then
        out[k] = {}
        check(file, text, {}, spec.table, { k }, out[k])
      else
        out[k] = spec[2]
      end
    end
  end
end

-- the defaults alone (no file)
function M.defaults()
  local out = {}
  check("(defaults)", nil, {}, SCHEMA, {}, out)
  return out
end

-- Reads and checks FILE; returns the settings, defaults filled in, or
-- raises a usage error naming the key and the file:line.
function M.load(file)
  local f, err = io.open(file, "r")
  if not f then error(BPF.error("usage", "cannot read the config: " .. tostring(err)), 0) end
  local text = f:read("a")
  f:close()
  local chunk, perr = load(text, "@" .. file, "t", setmetatable({}, { __index = _G }))
  if not chunk then error(BPF.error("usage", "config: " .. perr), 0) end
  local ok, t = pcall(chunk)
  if not ok then error(BPF.error("usage", "config: " .. tostring(t)), 0) end
  if type(t) ~= "table" then
    error(BPF.error("usage", string.format("%s: a config returns a table (return { sample_rate = 99, ... }), not %s",
      file, type(t))), 0)
  end
  local out = {}
  check(file, text, t, SCHEMA, {}, out)
  if out.enable_memory_tracing and not out.memory.pid and not out.memory.comm then
    fail(file, text, { "enable_memory_tracing" },
      "enable_memory_tracing needs a target: memory = { pid = N } or memory = { comm = \"name\" } (uprobes on every process's allocator would cost every call)")
  end
  if out.memory.pid and out.memory.comm then fail(file, text, { "memory" }, "memory: give pid or comm, not both") end
  return out
end

M.SCHEMA = SCHEMA
M.line_of = line_of

return M
