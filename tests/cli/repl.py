#!/usr/bin/env python3
"""Drives bpflua through a pseudo-terminal, as a person would. The REPL: a
probe written in C (four lines: define, run, read, detach), a one-liner
counting a workload exactly, tab completion of API and probe names, an
error that leaves the session alive and nothing attached, Ctrl-C out of a
running wait(), and Ctrl-D to leave. Results shown as values (probe names,
a BPF table's keys and counts, nested tables, help text), :tables, :probes
and :detach of one probe, long output through $PAGER on a terminal only.
Then a tracer's status line."""
import fcntl, os, pty, re, select, shutil, struct, subprocess, sys, tempfile, termios, time

bpflua, workload = os.environ["BPFLUA"], os.environ["BPFLUA_WORKLOAD"]
tmp = tempfile.mkdtemp()
load = os.path.join(tmp, "bl_repltest")  # a name of its own: other tests run the workload too
shutil.copy(workload, load)
# a pager of our own: it says it ran, and swallows what it is given
env = dict(os.environ, HOME=tmp, TERM="xterm", PAGER="echo PAGED-BY-TEST; cat >/dev/null")
pid, fd = pty.fork()
if pid == 0:
    os.execvpe(bpflua, [bpflua], env)
fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 100, 0, 0))  # 40 rows, 100 columns

buf = b""
def read_until(pattern, timeout=60):
    global buf
    deadline = time.time() + timeout
    while time.time() < deadline:
        m = re.search(pattern.encode(), buf)
        if m:
            out, buf = buf[:m.end()], buf[m.end():]
            return out.decode(errors="replace")
        r, _, _ = select.select([fd], [], [], 0.2)
        if r:
            try:
                buf += os.read(fd, 65536)
            except OSError:
                break
    sys.exit("FAIL: waited for %r; the terminal shows:\n%s" % (pattern, buf.decode(errors="replace")))

checks = 0
def send(line, expect=r"bpflua> $"):
    os.write(fd, line.encode() + b"\r")
    return read_until(expect)

def check(cond, what, shown=""):
    global checks
    checks += 1
    if not cond:
        sys.exit("FAIL: %s\n%s" % (what, shown))

read_until(r"bpflua> $")
# a probe typed as C: defined (over two lines), run, read, detached
out = send('b = BPF{ text = [[', r"\.\.\.> $")
out = send('BPF_HASH(c, u32, u64); TRACEPOINT_PROBE(syscalls, sys_enter_getppid) '
           '{ u32 p = bpf_get_current_pid_tgid() >> 32; c.increment(p); return 0; } ]] }', r"bpflua> $")
out = send('p = io.popen("%s getppid 1234"):read("a"):match("%%d+") + 0' % load)
out = send('b:get_table("c"):get(p)')
check(re.search(r"\b1234\b", out), "the C probe counts 1234 calls", out)
send("b:cleanup()")
out = send("pcall(b.attached, b)")
check("cleaned up" in out, "b:cleanup() detaches", out)

# a one-liner, exact
send('h = count{ "t:syscalls:sys_enter_getppid", by = "comm" }')
send('os.execute("%s getppid 5000 >/dev/null")' % load)
out = send("h")
check("@[bl_repltest]: 5000" in out, "count by comm is exact", out)

# tab completion: API names, probe names from tracefs, a binary's symbols
os.write(fd, b"BPF.feat\t")
out = read_until(r"BPF\.feat.*ures")  # libedit redraws only the new part
os.write(fd, b"\x15")  # Ctrl-U: drop the line
os.write(fd, b'probes("t:syscalls:sys_enter_getpp\t')
out = read_until(r"sys_enter_getpp.*id")
os.write(fd, b"\x15")
os.write(fd, ('probes("u:%s:bl_traced_f\t' % load).encode())
out = read_until(r"bl_traced_f.*unction")
os.write(fd, b"\x15\r")
read_until(r"bpflua> $")
checks += 3

# errors keep the session, and leave nothing attached
out = send('count{ "t:nosuch:tracepoint" }')
check("no tracepoint nosuch:tracepoint" in out, "a missing tracepoint is named", out)
out = send('BPF{ text = "int f( { return 0; }" }')
check("error" in out and "bpflua> " in out, "bad C is reported, the session goes on", out)
out = send("#require('bpflua.oneliner').active")
check(re.search(r"\b1\b", out), "only the one good handle is attached", out)

# results are values, not addresses: the four statements
ADDR = re.compile(r"(table|function|userdata): 0x")
out = send('probes("t:sched:*exec*")')
check("tracepoint:sched:sched_process_exec" in out and not ADDR.search(out), "probes() shows probe names", out)
out = send('c = BPF{ text = [[BPF_HASH(c, u32, u64); TRACEPOINT_PROBE(syscalls, sys_enter_getppid) '
           '{ u32 p = bpf_get_current_pid_tgid() >> 32; c.increment(p); return 0; } ]] }')
def workload_pid(args):
    """Runs the workload from the REPL; its pid, as the REPL shows it."""
    send('wp = io.popen("%s %s"):read("a"):match("%%d+")' % (load, args))
    out = send('"WPID" .. wp')
    m = re.search(r'"WPID(\d+)"', out)
    check(m, "the workload ran", out)
    return int(m.group(1))
wpid = workload_pid("getppid 4321")
out = send('c:get_table("c"):items()')
check(re.search(r"^%d\t4321\r?$" % wpid, out, re.M) and not ADDR.search(out),
      "an items() iterator typed alone shows its keys and counts", out)
out = send('c:get_table("c")')
check(re.search(r"^@c\[%d\]: 4321\r?$" % wpid, out, re.M), "a BPF table shows as bpftrace's @c[key]: count", out)
out = send("{a = 1, b = {2, 3}}")
check("{a = 1, b = {2, 3}}" in out and not ADDR.search(out), "a nested table shows its values", out)
def set_rows(rows):
    """The terminal's height: 40 rows page long output, 1000 show it plainly."""
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, 100, 0, 0))
set_rows(1000)
out = send('w = {} for i = 1, 150 do w["k" .. i] = i end w.deep = {a = {b = {c = {d = {e = 1}}}}} w.self = w return w')
check("  deep = {a = {b = {c = {... 1 entry}}}}," in out and "  ... 52 more" in out and "k1 = 1," in out
      and "<cycle>" not in out, "a big table is bounded in depth and rows, keys sorted", out[-600:])
out = send("w.self.deep")
check("{a = {b = {c = {d = {... 1 entry}}}}}" in out, "nesting is bounded", out)
out = send("{ 1, 2, x = { y = 'a\\0b' } }")
check('{1, 2, x = {y = "a\\x00b"}}' in out, "strings are quoted and escaped", out)
set_rows(40)
out = send("help")
check("bpflua REPL: Lua 5.4" in out and ":detach N" in out and not ADDR.search(out), "bare help shows the help", out)
out = send('help("count")')
check("count{ PROBE" in out and "filter" in out and "by" in out, "help(\"count\") shows the arguments", out)
out = send("help(BPF)")
check("src_file" in out and "get_table" in out, "help(BPF) shows BPF{}'s arguments and methods", out)
out = send("help(c)")
check(re.search(r"table c +hash, \d+ of 10240 entries", out) and "attached tracepoint:syscalls:sys_enter_getppid" in out,
      "help(b) shows the object's tables and probes", out)
out = send("count")
check('count{ PROBE, by = KEYS, filter = "C" }' in out and not ADDR.search(out), "a bare function shows its signature", out)
check("PAGED-BY-TEST" not in out, "short output is not paged")

# a histogram drawn, hostile names escaped, a 100,000-entry table at once
send('m = BPF{ text = [[BPF_HISTOGRAM(dist); struct nk { char name[16]; }; BPF_HASH(names, struct nk, u64); '
     'BPF_HASH(big, u32, u64, 100000);]] }')
send('for i = 0, 5 do m:get_table("dist"):set(i, 10 * i) end')
out = send('m:get_table("dist")')
check(re.search(r"^@dist:\r?$", out, re.M) and re.search(r"^ +4 -> 7 +: 30 +\|\*{24} +\|", out, re.M)
      and re.search(r"^ +16 -> 31 +: 50 +\|\*{40}\|", out, re.M), "a BPF_HISTOGRAM shows as a log2 histogram", out)
out = send('m:get_table("names"):set({ name = "ev\\27[2Jil" }, 7) return m:get_table("names")')
check("@names[name=ev\\x1b[2Jil]: 7" in out and "\x1b[2J" not in out, "a key's control characters are escaped", out)
send('do local t = m:get_table("big") for i = 1, 100000 do t:set(i, i) end end')
set_rows(1000)
t0 = time.time()
out = send('m:get_table("big")', r"entries in all.*\n.*bpflua> $")
took = time.time() - t0
set_rows(40)
rows = re.findall(r"^@big\[\d+\]: \d+\r?$", out, re.M)
check(len(rows) == 500 and "... 99500 more (100000 entries in all" in out and took < 10,
      "a 100,000-entry table shows its first 500 rows (%.2f s)" % took, out[-500:])
send("m:cleanup()")

# :tables, :probes, and :detach of one probe while the rest stay
send('u = BPF{ text = [[BPF_ARRAY(n, u64, 1); int on_call(struct pt_regs *ctx) { n.increment(0); return 0; }]] }')
send('u:attach_uprobe{ name = "%s", sym = "bl_traced_function", fn_name = "on_call" }' % load)
out = send(":tables")
check(re.search(r"^c +c +hash +\d+/10240 entr(y|ies) +key 4 B, value 8 B", out, re.M)
      and re.search(r"^u +n +array +1/1 entry +key 4 B, value 8 B", out, re.M)
      and re.search(r"^h +values +hash", out, re.M), ":tables lists what was loaded", out)
out = send(":probes")
m = re.search(r"^ *(\d+) +u +uprobe:.*bl_repltest:bl_traced_function", out, re.M)
check(m and re.search(r"^ *\d+ +c +tracepoint:syscalls:sys_enter_getppid", out, re.M), ":probes lists the probes", out)
def perf_fds():
    return sum(os.readlink("/proc/%d/fd/%s" % (pid, f)) == "anon_inode:[perf_event]" for f in os.listdir("/proc/%d/fd" % pid))
send('os.execute("%s uprobe 300 >/dev/null")' % load)
out = send('u:get_table("n"):get(0)')
check(re.search(r"^300\r?$", out, re.M), "the uprobe counts 300 calls", out)
before = perf_fds()
out = send(":detach " + m.group(1))
check("detached uprobe:" in out, ":detach N says what it detached", out)
check(perf_fds() == before - 1, "the uprobe's perf event is closed (%d -> %d)" % (before, perf_fds()))
send('os.execute("%s uprobe 300 >/dev/null")' % load)
out = send('u:get_table("n"):get(0)')
check(re.search(r"^300\r?$", out, re.M), "after :detach the uprobe counts no more", out)
out = send(":probes")
check("bl_traced_function" not in out and "c          tracepoint:syscalls:sys_enter_getppid" in out,
      ":probes shows the uprobe gone and the tracepoint kept", out)
wpid = workload_pid("getppid 77")
out = send("c:get_table('c'):get(%d)" % wpid)
check(re.search(r"^77\r?$", out, re.M), "the other probes still count", out)

# output taller than the terminal goes through $PAGER
out = send('probes("t:syscalls:*")')
check("PAGED-BY-TEST" in out and "sys_enter_getppid" not in out, "long output is paged on a terminal", out)

# Ctrl-C ends a running wait() and returns to the prompt
os.write(fd, b"wait(60)\r")
time.sleep(1.5)
t0 = time.time()
os.write(fd, b"\x03")
out = read_until(r"bpflua> $", timeout=10)
check(time.time() - t0 < 5, "Ctrl-C stops wait() at once", out)
out = send("1 + 1")
check(re.search(r"\b2\b", out), "the session still works after Ctrl-C", out)

out = send("h:stop() return h")
check("(stopped)" in out, "h:stop() detaches", out)
os.write(fd, b"\x04")  # Ctrl-D
_, status = os.waitpid(pid, 0)
check(os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, "Ctrl-D exits 0", str(status))
check(os.path.exists(os.path.join(tmp, ".bpflua_history")), "history is kept in the home directory")

# stdout not a terminal: never a pager, all of the output written
outfile = os.path.join(tmp, "out.txt")
pid, fd = pty.fork()
if pid == 0:
    o = os.open(outfile, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.dup2(o, 1)
    os.execvpe(bpflua, [bpflua], env)
fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 100, 0, 0))
time.sleep(1)
os.write(fd, b'probes("t:syscalls:*")\r')
time.sleep(3)
os.write(fd, b"\x04")
deadline = time.time() + 30
while time.time() < deadline and os.waitpid(pid, os.WNOHANG) == (0, 0):
    try:
        os.read(fd, 65536) if select.select([fd], [], [], 0.2)[0] else None
    except OSError:
        pass
text = open(outfile).read()
names = re.findall(r"tracepoint:syscalls:sys_\w+", text)
check("PAGED-BY-TEST" not in text and len(names) > 100 and "tracepoint:syscalls:sys_enter_getppid" in names,
      "off a terminal the whole output is written, unpaged (%d names)" % len(names), text[-2000:])

# a tracer on a terminal shows a status line on stderr while it runs
pid, fd = pty.fork()
if pid == 0:
    os.execvpe(bpflua, [bpflua, "run", "syscount", "-d", "2.5"], env)
buf = b""
out = read_until(r"syscount: [12]s, \d+ events")
out = read_until(r"SYSCALL +COUNT")
_, status = os.waitpid(pid, 0)
check(os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, "syscount on a terminal exits 0", str(status))
shutil.rmtree(tmp)
print("repl: %d checks passed" % checks)
