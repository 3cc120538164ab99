-- Reusable BPF C snippets live in probes/NAME.c; tracers compile them with
-- -D options instead of pasting C together.
local M = {}

local function probes_dir()
  return BPF.probes_dir
end

function M.text(name)
  local path = probes_dir() .. "/" .. name .. ".c"
  local f, err = io.open(path, "r")
  if not f then error("no probe snippet " .. name .. ": " .. err, 2) end
  local s = f:read("a")
  f:close()
  return s
end

-- BPF{} over a snippet with defines: defs = { FILTER_PID = 123, FLAG = true }
function M.load(name, defs)
  local cflags = {}
  for k, v in pairs(defs or {}) do
    if v == true then
      cflags[#cflags + 1] = "-D" .. k
    elseif v then
      cflags[#cflags + 1] = "-D" .. k .. "=" .. tostring(v)
    end
  end
  table.sort(cflags)
  return BPF{ text = M.text(name), cflags = cflags }
end

return M
