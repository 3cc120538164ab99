-- USDT probes, BCC's way (USDT{}, enable_probe, usdt_contexts,
-- bpf_usdt_readarg) and as one-liners, against tests/tools/usdt_prog.c,
-- whose probes fire a known number of times with known arguments. The
-- semaphore-guarded probe fires only while the kernel counts a tracer in
-- its semaphore; the program itself says how often it saw it set.
local t = dofile(arg[0]:match("(.*/)") .. "lib.lua")
local oneliner = require("bpflua.oneliner")
local BUILT = os.getenv("BPFLUA_USDT_PROG") or error("BPFLUA_USDT_PROG is not set (run through ctest)")
-- a copy of its own (another inode): uprobes are per file, and the test
-- running beside this one (the no-BTF run) must not share them
local PROG = os.tmpname()
assert(os.execute(string.format("cp %s %s && chmod 755 %s", BUILT, PROG, PROG)))
local N = 50

-- starts usdt_prog N behind a gate; returns its pid and a function that
-- opens the gate and returns the program's "semaphore seen" count
local function start(n)
  local gate = os.tmpname()
  os.remove(gate)
  local p = io.popen(PROG .. " " .. n .. " " .. gate, "r")
  local pid = math.tointeger(tonumber(p:read("l")))
  return pid, function()
    io.open(gate, "w"):close()
    local out = p:read("a")
    p:close()
    os.remove(gate)
    return math.tointeger(tonumber(out:match("semaphore seen (%d+)")))
  end
end

local function run(n)
  local _, go = start(n)
  return go()
end

t.eq(run(N), 0, "untraced, the semaphore stays 0")

-- the probes as BCC's enumerate_probes lists them; referee: readelf -n
local u = USDT{ path = PROG }
local probes = {}
for _, p in ipairs(u:enumerate_probes()) do probes[p.provider .. ":" .. p.name] = p end
local rp = io.popen("readelf -n " .. PROG)
local notes = rp:read("a")
rp:close()
local sem = tonumber(notes:match("Name: guarded\n%s*Location: %S+, Base: %S+, Semaphore: (0x%x+)"))
t.ok(probes["bltest:tick"] and probes["bltest:multi"] and probes["bltest:guarded"], "three probes")
t.eq(probes["bltest:tick"].arguments, 2, "tick's arguments")
t.eq(probes["bltest:multi"].locations, 2, "multi's two sites")
t.eq(probes["bltest:tick"].semaphore, 0, "tick has no semaphore")
t.eq(probes["bltest:guarded"].semaphore, sem, "guarded's semaphore, as readelf -n says")

u:enable_probe{ probe = "tick", fn_name = "on_tick" }
u:enable_probe{ probe = "bltest:multi", fn_name = "on_multi" }
u:enable_probe{ probe = "guarded", fn_name = "on_guarded" }
local ok, err = pcall(u.enable_probe, u, { probe = "no_such_probe", fn_name = "x" })
t.ok(not ok and err:find("no USDT probe 'no_such_probe'"), "a missing probe: " .. tostring(err))

local TEXT = [[
BPF_HASH(ticks, s64, u64);
BPF_HASH(multis, s64, u64);
BPF_HASH(guards, s64, u64);
BPF_HASH(names, u64, u64);
int on_tick(struct pt_regs *ctx) {
	int i = 0;
	long neg = 0;
	bpf_usdt_readarg(1, ctx, &i);
	bpf_usdt_readarg(2, ctx, &neg);
	s64 k = (s64)i * 1000000 + neg;   /* i and -3i in one key */
	ticks.increment(k);
	return 0;
}
int on_multi(struct pt_regs *ctx) {
	long x = -1;
	bpf_usdt_readarg(1, ctx, &x);
	multis.increment(x);
	return 0;
}
int on_guarded(struct pt_regs *ctx) {
	long x = -1;
	char name[16] = {};
	bpf_usdt_readarg(1, ctx, &x);
	bpf_usdt_readarg_p(2, ctx, name, sizeof(name));
	guards.increment(x);
	u64 same = name[0] == 'g' && name[7] == '-' && name[11] == 'e' && name[12] == 0;
	names.increment(same);
	return 0;
}
]]

local function check_counts(b, n, what)
  local ticks, multis, guards = 0, 0, 0
  for i = 0, n - 1 do
    ticks = ticks + (b["ticks"]:get(i * 1000000 - 3 * i) == 1 and 1 or 0)
    multis = multis + (b["multis"]:get(i) == 1 and 1 or 0) + (b["multis"]:get(i + 1000) == 1 and 1 or 0)
    guards = guards + (b["guards"]:get(7 * i) == 1 and 1 or 0)
  end
  t.eq(ticks, n, what .. ": tick(i, -3i) once for each i")
  t.eq(#b["ticks"]:keys(), n, what .. ": no other tick keys")
  t.eq(multis, 2 * n, what .. ": multi(i) at one site, multi(i + 1000) at the other")
  t.eq(#b["multis"]:keys(), 2 * n, what .. ": no other multi keys")
  t.eq(guards, n, what .. ": guarded(7i) once for each i")
  t.eq(b["names"]:get(1), n, what .. ": guarded's string argument, read through its pointer")
  t.eq(b["names"]:get(0), nil, what .. ": no wrong strings")
end

-- by path: every process running the binary
local b = BPF{ text = TEXT, usdt_contexts = { u } }
t.eq(b:num_open_uprobes(), 4, "a uprobe per location: tick, multi twice, guarded")
t.eq(run(N), N, "traced, the program saw its semaphore set for every call")
check_counts(b, N, "by path")
b:cleanup()
t.eq(run(N), 0, "detached, the kernel took its count off the semaphore")

-- by pid: only that process; another one running the same binary at the
-- same time keeps its semaphore at 0 and is not counted
local pid, go = start(N)
local _, go_other = start(N)
local up = USDT{ pid = pid, path = PROG }
up:enable_probe{ probe = "tick", fn_name = "on_tick" }
up:enable_probe{ probe = "multi", fn_name = "on_multi" }
up:enable_probe{ probe = "guarded", fn_name = "on_guarded" }
b = BPF{ text = TEXT, usdt_contexts = { up } }
t.eq(go(), N, "the traced process saw its semaphore set")
t.eq(go_other(), 0, "the other process's semaphore stayed 0")
check_counts(b, N, "by pid")
b:cleanup()

-- a runtime's own semaphore-guarded probe: Python's gc__start(generation),
-- with the collector's own runs switched off so only the script's count
local PY = "/usr/bin/python3.11"
local upy = USDT{ path = PY }
upy:enable_probe{ probe = "python:gc__start", fn_name = "on_gc" }
b = BPF{ text = [[
BPF_HASH(gen1, u32, u64);
int on_gc(struct pt_regs *ctx) {
	int gen = -1;
	bpf_usdt_readarg(1, ctx, &gen);
	u32 pid = bpf_get_current_pid_tgid() >> 32;
	if (gen == 1)
		gen1.increment(pid);
	return 0;
}
]], usdt_contexts = { upy } }
-- other tests run Python too: this one's by its pid
local pp = io.popen("sh -c 'echo $$; exec " .. PY .. " -c \"import gc\ngc.disable()\nfor i in range(" .. N ..
  "): gc.collect(1)\"'")
local pypid = math.tointeger(tonumber(pp:read("l")))
pp:read("a")
pp:close()
t.eq(b["gen1"]:get(pypid), N, "python:gc__start(1): the script's N gc.collect(1)")
b:cleanup()

-- one-liners: usdt:PATH:[PROVIDER:]NAME and U:, with arg0..
local listed = oneliner.probes("usdt:" .. PROG .. ":*")
t.eq(table.concat(listed, " "), string.format("usdt:%s:bltest:guarded usdt:%s:bltest:multi usdt:%s:bltest:tick",
  PROG, PROG, PROG), "probes(\"usdt:PATH:*\")")
-- a library by name: libstdc++'s probes, as readelf -n lists them (Debian
-- 12's C library carries none: `probes("usdt:c:*")` is empty)
local lib = oneliner.probes("usdt:stdc++:*")
local libpath = lib[1] and lib[1]:match("^usdt:(.-):")
t.ok(libpath and libpath:find("libstdc%+%+%.so"), "usdt:stdc++ is libstdc++: " .. tostring(lib[1]))
rp = io.popen("readelf -n " .. libpath)
local want = {}
for prov, name in rp:read("a"):gmatch("Provider: (%S+)\n%s*Name: (%S+)") do
  want[#want + 1] = string.format("usdt:%s:%s:%s", libpath, prov, name)
end
rp:close()
table.sort(want)
t.eq(table.concat(lib, " "), table.concat(want, " "), "libstdc++'s probes, as readelf -n says")
t.eq(#oneliner.probes("usdt:c:*"), 0, "the C library's: none")

local h = oneliner.count{ "usdt:" .. PROG .. ":bltest:tick", by = "arg1" }
local s = oneliner.sum{ "U:" .. PROG .. ":guarded", value = "arg0" }
t.eq(run(N), N, "a one-liner on the guarded probe sets its semaphore")
local rows = h:read()
t.eq(#rows, N, "count by arg1: N rows")
local all = true
for _, r in ipairs(rows) do all = all and r.value == 1 and r.key.arg1 % 3 == 0 and r.key.arg1 <= 0 end
t.ok(all, "each arg1 = -3i once")
t.eq(s:read()[1].value, 7 * N * (N - 1) // 2, "sum of guarded's arg0 = 7 * (0 + ... + N-1)")
h:stop()
s:stop()
ok, err = pcall(oneliner.count, { "usdt:" .. PROG .. ":nope" })
t.ok(not ok and tostring(err):find("no USDT probe 'nope'"), "a one-liner on a missing probe: " .. tostring(err))
-- a plain uprobe already on the guarded probe's address holds reference
-- counter 0; the kernel allows one per address, and the error says so
local loc = tonumber(notes:match("Name: guarded\n%s*Location: (0x%x+)"))
local plain = BPF{ text = "int hit(struct pt_regs *ctx) { return 0; }" }
plain:attach_uprobe{ name = PROG, addr = loc, fn_name = "hit" }
local ug = USDT{ path = PROG }
ug:enable_probe{ probe = "guarded", fn_name = "on_guarded" }
ok, err = pcall(BPF, { text = TEXT, usdt_contexts = { ug } })
t.ok(not ok and err:find("another tracer has a uprobe at .* with reference counter 0x0, this probe's semaphore is at 0x"),
  "a semaphore probe where a plain uprobe is: " .. tostring(err))
plain:cleanup()

-- bad input: clear errors, nothing left behind
ok, err = pcall(USDT, { path = "/no/such/binary" })
t.ok(not ok and err:find("/no/such/binary"), "a missing binary: " .. tostring(err))
ok, err = pcall(BPF, { text = "int f(void *ctx) { return 0; }", usdt_contexts = { 5 } })
t.ok(not ok and err:find("usdt_contexts%[1%] must be a USDT{} context"), "not a context: " .. tostring(err))
local ubad = USDT{ path = PROG }
ubad:enable_probe{ probe = "tick", fn_name = "no_such_function" }
ok, err = pcall(BPF, { text = "int f(void *ctx) { return 0; }", usdt_contexts = { ubad } })
t.ok(not ok and err:find("no_such_function"), "an enabled probe's function missing: " .. tostring(err))
t.eq(t.bpf_fds(), 0, "nothing left attached")
os.remove(PROG)
t.done("usdt")
