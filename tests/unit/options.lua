-- The tracers' option parser with no root and no kernel: each option type,
-- -c and -- COMMAND, usage errors with their exact messages, --help, and the
-- generated help text (golden/*.txt).
local t = dofile((arg[0]:match("^(.*/)") or "./") .. "lib.lua")
local tracer = require("bpflua.tracer")

local decl = {
  name = "demo",
  description = "A tracer for the parser's tests",
  args = {
    { "T", "top", type = "int", default = 10, min = 0, help = "show the top N rows (0: all)" },
    { "n", "slots", type = "int", min = 2, max = 64, help = "histogram slots" },
    { nil, "depth", type = "int", max = 127, help = "stack depth" },
    { "P", "process", type = "flag", help = "per process" },
    { "s", "size", type = "string", metavar = "SIZE", help = "a size such as 4k",
      parse = function(v)
        local n, unit = v:match("^(%d+)([km]?)$")
        if not n then return nil, "wants a size such as 4k" end
        return tonumber(n) * ({ [""] = 1, k = 1024, m = 1048576 })[unit]
      end },
    { nil, "mode", type = "choice", choices = { "fast", "slow" }, default = "fast", help = "how" },
    { nil, "label", type = "string", help = "a label" },
  },
  check = function(opts)
    if opts.label == "bad" then return "--label cannot be 'bad'" end
  end,
}

local HINT = "\n(bpflua run demo --help lists the options)"
local DEFAULTS = { top = 10, process = false, mode = "fast", format = "text", perf_buffer = false, children = false }

local function with(over)
  local o = {}
  for k, v in pairs(DEFAULTS) do o[k] = v end
  for k, v in pairs(over) do o[k] = v end
  return o
end

local function parses(argv, want)
  local ok, opts = pcall(tracer.parse, decl, argv)
  if not ok then error(table.concat(argv, " ") .. ": " .. tostring(type(opts) == "table" and opts.message or opts), 2) end
  t.eq(t.dump(opts), t.dump(want), table.concat(argv, " "))
end

local function refuses(argv, msg)
  local err = t.raises(table.concat(argv, " "), tracer.parse, decl, argv)
  t.eq(BPF.is_error(err), "usage", table.concat(argv, " ") .. ": a usage error")
  t.eq(type(err) == "table" and err.message, "demo: " .. msg .. HINT, table.concat(argv, " "))
end

-- defaults, and the three ways to give a value
parses({}, DEFAULTS)
parses({ "-T", "5" }, with({ top = 5 }))
parses({ "--top", "5" }, with({ top = 5 }))
parses({ "--top=5" }, with({ top = 5 }))
parses({ "--top=0" }, with({ top = 0 }))
parses({ "-T", "5", "-T", "7" }, with({ top = 7 }))

-- int: integers only, within min and max
refuses({ "-T", "x" }, "-T wants an integer, not 'x'")
refuses({ "-T", "1.5" }, "-T wants an integer, not '1.5'")
refuses({ "--top=" }, "--top wants an integer, not ''")
refuses({ "-T", "-1" }, "-T must be at least 0, not -1")
parses({ "-n", "2" }, with({ slots = 2 }))
parses({ "-n", "64" }, with({ slots = 64 }))
refuses({ "-n", "1" }, "-n must be from 2 to 64, not 1")
refuses({ "--slots=65" }, "--slots must be from 2 to 64, not 65")
parses({ "--depth", "-3" }, with({ depth = -3 }))
refuses({ "--depth", "128" }, "--depth must be at most 127, not 128")
refuses({ "-p", "0" }, "-p must be from 1 to 4194304, not 0")

-- number: positive and finite
parses({ "-d", "0.5" }, with({ duration = 0.5 }))
parses({ "--interval=2" }, with({ interval = 2 }))
refuses({ "-d", "0" }, "-d wants a positive number, not '0'")
refuses({ "-d", "-1" }, "-d wants a positive number, not '-1'")
refuses({ "-d", "soon" }, "-d wants a positive number, not 'soon'")
refuses({ "-d", "1e999" }, "-d wants a positive number, not '1e999'")
refuses({ "-i", "nan" }, "-i wants a positive number, not 'nan'")

-- choice
parses({ "--format", "json" }, with({ format = "json" }))
parses({ "--mode=slow" }, with({ mode = "slow" }))
refuses({ "--format", "xml" }, "--format must be one of text, json, not 'xml'")
refuses({ "--mode", "FAST" }, "--mode must be one of fast, slow, not 'FAST'")

-- flag: takes no value
parses({ "-P" }, with({ process = true }))
parses({ "--process", "--perf-buffer" }, with({ process = true, perf_buffer = true }))
refuses({ "--process=no" }, "--process takes no value, not 'no'")

-- string, and a string with a parse hook
parses({ "--label", "x y" }, with({ label = "x y" }))
parses({ "--label=" }, with({ label = "" }))
parses({ "-o", "-" }, with({ output = "-" }))
parses({ "-s", "4k" }, with({ size = 4096 }))
parses({ "--size=3" }, with({ size = 3 }))
refuses({ "-s", "4g" }, "-s wants a size such as 4k, not '4g'")

-- the tracer's own check, after the options are read
refuses({ "--label", "bad" }, "--label cannot be 'bad'")

-- what is not an option
refuses({ "--bogus" }, "unknown option --bogus")
refuses({ "-Z" }, "unknown option -Z")
refuses({ "-T5" }, "unknown option -T5")
refuses({ "stray" }, "unexpected argument 'stray'")
refuses({ "-T" }, "-T needs a value")
refuses({ "-P", "--label" }, "--label needs a value")

-- --help, after good options too; options are read in order, so a bad
-- value before it is still an error
t.eq(tracer.parse(decl, { "--help" }), nil, "--help")
t.eq(tracer.parse(decl, { "-P", "-h", "stray" }), nil, "-h")
refuses({ "-T", "x", "-h" }, "-T wants an integer, not 'x'")

-- -- COMMAND and -c
parses({ "--", "/bin/true", "a b", "--top" }, with({ command_argv = { "/bin/true", "a b", "--top" } }))
parses({ "-P", "--", "true" }, with({ process = true, command_argv = { "true" } }))
parses({ "-c", "true  one two" }, with({ command = "true  one two", command_argv = { "true", "one", "two" } }))
-- shell syntax goes through /bin/sh
parses({ "-c", "true $HOME" }, with({ command = "true $HOME", command_argv = { "/bin/sh", "-c", "true $HOME" } }))
parses({ "-c", "true | true" }, with({ command = "true | true", command_argv = { "/bin/sh", "-c", "true | true" } }))
refuses({ "--" }, "-- needs a command after it")
refuses({ "-c", "" }, "-c needs a command")
refuses({ "-c", "   " }, "-c needs a command")
refuses({ "-c", "true", "--", "true" }, "give either -c COMMAND or -- COMMAND, not both")
refuses({ "--", "/nonexistent/bpflua-prog" }, "cannot run the command: no such program '/nonexistent/bpflua-prog'")
refuses({ "-c", "bpflua-no-such-program x" }, "cannot run the command: no such program 'bpflua-no-such-program'")

-- -p: a live process, and not with a command
local me = BPF.getpid()
parses({ "-p", tostring(me) }, with({ pid = me }))
refuses({ "-p", tostring(me), "-c", "true" }, "-p and -c exclude each other")
refuses({ "-p", tostring(me), "--", "true" }, "-p and -c exclude each other")
local gone = 4194304
while io.open("/proc/" .. gone .. "/stat", "r") do gone = gone - 1 end
refuses({ "-p", tostring(gone) }, string.format("-p %d: no such process", gone))

-- the help text, generated from the declaration; syscount's as users see it
t.golden("usage_demo.txt", tracer.usage(decl) .. "\n")
t.golden("usage_syscount.txt", tracer.usage(tracer.load(t.dir .. "/../../scripts/syscount.lua")) .. "\n")
local nc = { name = "bare", no_common = true, args = { { "x", "exact", type = "flag", help = "be exact" } } }
t.golden("usage_no_common.txt", tracer.usage(nc) .. "\n")

-- a declaration with a type the parser does not know is the tracer's bug, named
local err = t.raises("unknown type", tracer.parse, { name = "odd", args = { { "q", "quick", type = "bool" } } }, {})
t.eq(type(err) == "table" and err.message, "odd: option --quick: type must be int, number, choice, string or flag, not bool",
  "unknown type")

t.done("options")
