-- Where a tracer's results go and how they look: text tables for people,
-- NDJSON (one object per line) for programs. Tracers hand over rows and
-- column specs; they never format for one format only.
local M = {}
M.__index = M

-- opts: format = "text" | "json", path = file or nil (stdout).
-- A file goes through BPF.open_output (lua/outfile.c): a regular file is
-- replaced whole on success and left untouched on failure, a device or pipe
-- is written through, a directory is refused before anything runs.
function M.new(opts)
  local self = setmetatable({ format = opts.format or "text", path = opts.path }, M)
  if self.path then
    self.f = BPF.open_output(self.path)
  else
    self.f = io.stdout
  end
  return self
end

local function stdout_failed(err)
  error(BPF.error("failed", "cannot write to standard output: " .. tostring(err)))
end

function M:write(s)
  if self.path then return self.f:write(s) end
  local ok, err = self.f:write(s)
  if not ok then stdout_failed(err) end
end

function M:flush()
  if self.path then return end
  local ok, err = self.f:flush()
  if not ok then stdout_failed(err) end
end

-- Commit (ok) or discard the output file; raises if what was written did
-- not all arrive.
function M:close(ok)
  if not self.path then
    if ok then self:flush() end
    return
  end
  self.f:close(ok)
end

-- Progress and notices: stderr, so stdout stays parseable.
function M:note(msg)
  io.stderr:write(msg, "\n")
end

-- Tracers write columns compactly, { KEY, TITLE, "%fmt" } (title and
-- format optional); they are read once as named fields, kept per list.
local named = setmetatable({}, { __mode = "k" })

local function columns(cols)
  local list = named[cols]
  if not list then
    list = { order = {} }
    for i, c in ipairs(cols) do
      list[i] = { key = c[1], title = c[2] or c[1], fmt = c[3] or "%s" }
      list.order[i] = c[1]
    end
    named[cols] = list
  end
  return list
end

-- One record: a JSON object, or a text line formatted by the columns.
function M:record(row, cols)
  cols = columns(cols)
  if self.format == "json" then
    self:write(BPF.json(row, cols.order) .. "\n")
    return
  end
  local parts = {}
  for i, c in ipairs(cols) do
    local v = row[c.key]
    if v == nil then v = "-" elseif type(v) == "string" then v = BPF.printable(v) end
    local ok, s = pcall(string.format, c.fmt, v)
    parts[i] = ok and s or tostring(v)
  end
  self:write(table.concat(parts, " ") .. "\n")
end

function M:header(cols)
  if self.format == "json" then return end
  local parts = {}
  for i, c in ipairs(columns(cols)) do
    local width = c.fmt:match("%%(%-?%d+)")
    parts[i] = width and string.format("%" .. width .. "s", c.title) or c.title
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
