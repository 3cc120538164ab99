#!/usr/bin/env python3
"""Drives bpflua through a pseudo-terminal, as a person would. The REPL: a
probe written in C (four lines: define, run, read, detach), a one-liner
counting a workload exactly, tab completion of API and probe names, an
error that leaves the session alive and nothing attached, Ctrl-C out of a
running wait(), and Ctrl-D to leave. Then a tracer's status line."""
import os, pty, re, select, shutil, subprocess, sys, tempfile, time

bpflua, workload = os.environ["BPFLUA"], os.environ["BPFLUA_WORKLOAD"]
tmp = tempfile.mkdtemp()
load = os.path.join(tmp, "bl_repltest")  # a name of its own: other tests run the workload too
shutil.copy(workload, load)
env = dict(os.environ, HOME=tmp, TERM="xterm")
pid, fd = pty.fork()
if pid == 0:
    os.execvpe(bpflua, [bpflua], env)

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
