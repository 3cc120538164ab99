#!/bin/bash
# bpflua's uprobes and BCC's on the same function, both counting: BCC 0.26's
# Python passes a stray reference-counter offset that the kernel then holds
# for the address; bpflua attaches with the same one, so neither is refused.
# Referee: the workload's own call count, seen by both tracers.
. "$(dirname "$0")/lib.sh"
BPFLUA=${BPFLUA:?} WORKLOAD=${BPFLUA_WORKLOAD:?}
root=$(cd "$(dirname "$0")/../.." && pwd)
PY=/usr/bin/python3 # Debian's, where python3-bpfcc lives
N=300
# a copy of its own (another inode): other tests' uprobes on the workload
# stay out of this one's way, and this one's out of theirs
cp "$WORKLOAD" "$tmp/workload"
WORKLOAD=$tmp/workload

# BCC compiles against a header tree it looks for under /lib/modules only:
# lend it the one bpflua found (bench/lend.sh, as the benchmarks do)
echo 'print(BPF.features().headers.path)' >"$tmp/headers.lua"
farm=$("$BPFLUA" "$tmp/headers.lua" 2>/dev/null)
check "a header tree for BCC" test -d "$farm"

cat >"$tmp/bcc_uprobe.py" <<'PY'
import os, sys, time
from bcc import BPF
b = BPF(text=r"""
BPF_HASH(calls, u32, u64);
int hit(struct pt_regs *ctx) { u32 pid = bpf_get_current_pid_tgid() >> 32; calls.increment(pid); return 0; }
""")
b.attach_uprobe(name=sys.argv[1], sym="bl_traced_function", fn_name="hit")
print("attached", flush=True)
while not os.path.exists(sys.argv[2]):
    time.sleep(0.05)
for k, v in b["calls"].items():
    print("bcc", k.value, v.value, flush=True)
PY
cat >"$tmp/bpflua_uprobe.lua" <<'LUA'
local b = BPF{ text = [[
BPF_HASH(calls, u32, u64);
int hit(struct pt_regs *ctx) { u32 pid = bpf_get_current_pid_tgid() >> 32; calls.increment(pid); return 0; }
]] }
b:attach_uprobe{ name = arg[1], sym = "bl_traced_function", fn_name = "hit" }
local p = io.popen(arg[1] .. " uprobe " .. arg[2])
local pid = p:read("l")
p:close()
print("workload " .. pid)
for k, v in b["calls"]:items() do print("bpflua " .. k .. " " .. v) end
LUA

# BCC first: the kernel's uprobe carries BCC's offset
timeout 120 "$root/bench/lend.sh" "$farm" "$PY" "$tmp/bcc_uprobe.py" "$WORKLOAD" "$tmp/done" >"$tmp/bcc.out" 2>&1 &
check "BCC attached" wait_for "$tmp/bcc.out" attached
expect 0 "^workload [0-9]+" timeout 60 "$BPFLUA" "$tmp/bpflua_uprobe.lua" "$WORKLOAD" "$N"
pid=$(sed -n 's/^workload //p' "$tmp/expect.out")
check "bpflua counted every call ($(cat "$tmp/expect.out"))" grep -qx "bpflua $pid $N" "$tmp/expect.out"
check "no failed attempt shown on the way ($(cat "$tmp/expect.out"))" \
	sh -c '! grep -q "cannot attach" "$1"' sh "$tmp/expect.out"
touch "$tmp/done"
wait
check "BCC counted every call too ($(tr '\n' ' ' <"$tmp/bcc.out"))" grep -qx "bcc $pid $N" "$tmp/bcc.out"
finish bcc_uprobe
