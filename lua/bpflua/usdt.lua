-- USDT probes in one-liners: usdt:PATH:[PROVIDER:]NAME (short U:), with the
-- probe's arguments as arg0..arg5, and probes("usdt:PATH:*") listing them.
-- oneliner.lua takes M.kind as one of its probe kinds.
local M = {}

local function fail(msg)
  error(BPF.error("failed", msg), 0)
end

-- USDT contexts by path: a binary's notes are read once per run
local contexts = {}
local function context(path)
  local u = contexts[path]
  if not u then
    u = BPF.USDT{ path = path }
    contexts[path] = u
  end
  return u
end

local HELP = "a USDT probe is usdt:/PATH:[PROVIDER:]NAME (probes(\"usdt:/PATH:*\") lists them)"

-- PATH:PROVIDER:NAME when PATH is a binary or library, else PATH:NAME
local function split(spec, rest)
  local a, prov, name = rest:match("^(.+):([^:]+):([^:]+)$")
  if a then
    local ok, u = pcall(context, a)
    if ok then return u, prov .. ":" .. name end
  end
  local path, probe = rest:match("^(.+):([^:]+)$")
  if not path then fail(string.format("'%s': %s", spec, HELP)) end
  local ok, u = pcall(context, path)
  if not ok then fail(string.format("'%s': %s", spec, tostring(u))) end
  return u, probe
end

local MAX_ARGS = 6
local PREAMBLE = {}
for i = 0, MAX_ARGS - 1 do PREAMBLE[#PREAMBLE + 1] = string.format("\tu64 arg%d = BL_USDT_ARG(%d);", i, i) end

M.kind = {
  short = "U",
  spec = function(p, rest)
    p.usdt, p.usdt_probe = split(p.spec, rest)
    local ok, err = pcall(p.usdt.arg_functions, p.usdt, p.usdt_probe, "bl_check")
    if not ok then fail(string.format("'%s': %s", p.spec, tostring(err):gsub("^[^\n]-:%d+: ", ""))) end
  end,
  prepare = function(p)
    p.regs, p.regs_args, p.retval = "ctx", true, false
  end,
  ctx = "struct pt_regs *ctx",
  -- the argument readers go before the function; arguments the probe does
  -- not have read as 0
  header = function(p, fn)
    local c, n = p.usdt:arg_functions(p.usdt_probe, fn)
    local out = { c }
    for i = n, MAX_ARGS - 1 do
      out[#out + 1] = string.format("static __always_inline u64 %s_usdt_arg%d(struct pt_regs *ctx) { return 0; }", fn, i)
    end
    out[#out + 1] = "#undef BL_USDT_ARG"
    out[#out + 1] = string.format("#define BL_USDT_ARG(n) %s_usdt_arg##n(ctx)", fn)
    out[#out + 1] = string.format("int %s(struct pt_regs *ctx)", fn)
    return table.concat(out, "\n"), fn
  end,
  preamble = PREAMBLE,
  attach = function(b, p, fn)
    b:attach_usdt{ usdt = p.usdt, probe = p.usdt_probe, fn_name = fn }
  end,
  -- "PATH:GLOB" (GLOB over NAME or PROVIDER:NAME) -> usdt:BIN:PROVIDER:NAME
  list = function(rest)
    local path, glob = rest:match("^(.+):([^:]*)$")
    if not path or not pcall(context, path) then path, glob = rest, "*" end
    local pat = "^" .. glob:gsub("[%^%$%(%)%%%.%[%]%+%-]", "%%%0"):gsub("%*", ".*"):gsub("%?", ".") .. "$"
    local out = {}
    for _, pr in ipairs(context(path):enumerate_probes()) do
      if pr.name:match(pat) or (pr.provider .. ":" .. pr.name):match(pat) then
        out[#out + 1] = string.format("usdt:%s:%s:%s", pr.bin_path, pr.provider, pr.name)
      end
    end
    table.sort(out)
    return out
  end,
}

return M
