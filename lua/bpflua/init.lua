-- The Lua half of bpflua, loaded before any script runs: adds the methods
-- that are about looks (histograms) to BPF's tables, and makes os.exit
-- close the state so every probe is detached on the way out.
local hist = require("bpflua.hist")

local T = BPF.table_methods
T.print_log2_hist = hist.print_log2_hist
T.print_linear_hist = hist.print_linear_hist

-- BCC's per-CPU tables give a list per key; sum() folds it.
function T:sum(key)
  local v = self:get(key)
  if type(v) ~= "table" then return v or 0 end
  local s = 0
  for _, x in ipairs(v) do s = s + x end
  return s
end

-- Compile errors point into "/virtual/main.c", the text libbcc was given.
-- When that text sits in the calling Lua file (a [[ long string ]]), point
-- at the file's own lines instead.
local function text_line_in(file, text)
  local f = file and io.open(file, "r")
  if not f then return nil end
  local src = f:read("a")
  f:close()
  local at = src:find(text, 1, true)
  if not at then return nil end
  local _, newlines = src:sub(1, at - 1):gsub("\n", "")
  return newlines + 1
end

local new = BPF.new
local function bpf_new(args)
  local ok, obj = pcall(new, args)
  if ok then return obj end
  local msg = tostring(obj):gsub("^[^\n]-:%d+: ", "", 1)
  -- the script's frame: the first one that is neither C nor this file
  local here, info = debug.getinfo(1, "S").source
  for level = 2, 12 do
    info = debug.getinfo(level, "Sl")
    if not info or (info.what ~= "C" and info.source ~= here) then break end
  end
  local file = info and info.source:match("^@(.*)")
  if type(args) == "table" and type(args.text) == "string" and msg:find("/virtual/main.c:", 1, true) then
    local first = text_line_in(file, args.text)
    if first then
      msg = msg:gsub("/virtual/main%.c:(%d+):", function(n)
        return string.format("%s:%d:", file, first + tonumber(n) - 1)
      end)
    end
  end
  if info and info.currentline and info.currentline > 0 then
    msg = string.format("%s:%d: %s", info.short_src, info.currentline, msg)
  end
  error(msg, 0)
end
BPF.new = bpf_new
getmetatable(BPF).__call = function(_, args) return bpf_new(args) end

local exit = os.exit
os.exit = function(code, _) exit(code, true) end

return {}
