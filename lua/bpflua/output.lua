-- Where a tracer's results go and how they look: text tables for people,
-- NDJSON (one object per line) for programs. Tracers hand over rows and
-- column specs; they never format for one format only.
local M = {}
M.__index = M

-- opts: format = "text" | "json", path = file or nil (stdout).
-- A file is written under a temporary name and renamed on close, so an
-- interrupted run never leaves a half-written file behind.
function M.new(opts)
  local self = setmetatable({ format = opts.format or "text", path = opts.path }, M)
  if self.path then
    self.tmp = self.path .. ".tmp." .. tostring(os.time()) .. "." .. tostring(math.random(1 << 30))
    local f, err = io.open(self.tmp, "w")
    if not f then error({ plain = "cannot write " .. self.path .. ": " .. err }) end
    self.f = f
  else
    self.f = io.stdout
  end
  return self
end

function M:write(s)
  self.f:write(s)
end

function M:flush()
  self.f:flush()
end

-- Commit (ok) or discard the output file.
function M:close(ok)
  if not self.tmp then
    self.f:flush()
    return
  end
  self.f:close()
  if ok then
    local renamed, err = os.rename(self.tmp, self.path)
    if not renamed then error({ plain = "cannot write " .. self.path .. ": " .. err }) end
  else
    os.remove(self.tmp)
  end
  self.tmp = nil
end

-- Progress and notices: stderr, so stdout stays parseable.
function M:note(msg)
  io.stderr:write(msg, "\n")
end

-- One record: a JSON object, or a text line formatted by cols.
-- cols: list of { key, HEADER, "%fmt" }.
function M:record(row, cols)
  if self.format == "json" then
    local order = {}
    for i, c in ipairs(cols) do order[i] = c[1] end
    self:write(BPF.json(row, order) .. "\n")
    return
  end
  local parts = {}
  for i, c in ipairs(cols) do
    local v = row[c[1]]
    if v == nil then v = "-" end
    local ok, s = pcall(string.format, c[3] or "%s", v)
    parts[i] = ok and s or tostring(v)
  end
  self:write(table.concat(parts, " ") .. "\n")
end

function M:header(cols)
  if self.format == "json" then return end
  local parts = {}
  for i, c in ipairs(cols) do
    local width = (c[3] or "%s"):match("%%(%-?%d+)")
    parts[i] = width and string.format("%" .. width .. "s", c[2]) or c[2]
  end
  self:write(table.concat(parts, " ") .. "\n")
end

function M:table(rows, cols)
  self:header(cols)
  for _, r in ipairs(rows) do self:record(r, cols) end
  self:flush()
end

-- A line of text (text format only; JSON output carries records alone).
function M:text(s)
  if self.format ~= "json" then self:write(s .. "\n") end
end

return M
