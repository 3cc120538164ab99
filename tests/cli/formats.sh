#!/bin/bash
# Profiles other tools read: memleak's and offcputime's pprof files read back
# by `go tool pprof` (Debian's golang-go), and profile's and offcputime's
# speedscope JSON checked against what the same run's workload did.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
W=$BPFLUA_WORKLOAD
export GOFLAGS=-mod=mod HOME=${HOME:-/root} GOCACHE=$tmp/gocache

# memleak: 300 leaks of 1000 bytes from bl_leak_memory, as a Go heap profile
"$BPFLUA" run memleak --format pprof -o "$tmp/heap.pb.gz" -c "$W leak 300 1000" >/dev/null 2>"$tmp/err" ||
	bad "memleak --format pprof: $(cat "$tmp/err")"
go tool pprof -top -unit=B -sample_index=inuse_space "$tmp/heap.pb.gz" >"$tmp/space" 2>&1
go tool pprof -top -sample_index=inuse_objects "$tmp/heap.pb.gz" >"$tmp/objects" 2>&1
check "pprof: inuse_space of bl_leak_memory is the 300000 bytes it leaked" \
	grep -Eq '^ +300000B .* bl_leak_memory$' "$tmp/space"
check "pprof: inuse_objects of bl_leak_memory is its 300 allocations" \
	grep -Eq '^ +300 .* bl_leak_memory$' "$tmp/objects"
expect 2 "a profile covers the whole run" "$BPFLUA" run memleak --format pprof -i 1 -c "$W leak 3 10"

# offcputime: a thread blocking 5 x 10 ms; the pprof file's off-CPU time under
# its function is at least what it blocked for and its blocks at most 5 (this
# VM's sched_switch drops a few switches, see offcputime.sh)
"$BPFLUA" run offcputime --format pprof -o "$tmp/off.pb.gz" -c "$W gone-block 5 10" >/dev/null 2>"$tmp/err" ||
	bad "offcputime --format pprof: $(cat "$tmp/err")"
go tool pprof -traces -sample_index=blocks "$tmp/off.pb.gz" >"$tmp/off.traces" 2>&1
check "pprof: offcputime's blocks under bl_gone_block_wait" python3 - "$tmp/off.traces" <<'PY'
import re, sys
blocks = 0
for trace in open(sys.argv[1]).read().split("-----------+-------------------------------------------------------"):
    m = re.search(r"^\s+(\d+)\s", trace, re.M)
    if m and "bl_gone_block_wait" in trace:
        blocks += int(m.group(1))
print("blocks under bl_gone_block_wait:", blocks)
sys.exit(not 1 <= blocks <= 5)
PY

# speedscope: profile of a CPU burner; the weights are the samples, most in
# bl_burn_cpu, every sample's frames valid indices
"$BPFLUA" run profile -F 499 --format speedscope -o "$tmp/cpu.speedscope.json" -c "$W burn 0.5" >/dev/null 2>"$tmp/err" ||
	bad "profile --format speedscope: $(cat "$tmp/err")"
"$BPFLUA" run offcputime --format speedscope -o "$tmp/off.speedscope.json" -c "$W gone-block 5 10" >/dev/null 2>"$tmp/err" ||
	bad "offcputime --format speedscope: $(cat "$tmp/err")"
check "speedscope files: the schema's shape, weights where the workloads spent them" python3 - "$tmp" <<'PY'
import json, sys
def load(path, unit):
    d = json.load(open(path))
    assert d["$schema"] == "https://www.speedscope.app/file-format-schema.json", d.get("$schema")
    frames = d["shared"]["frames"]
    assert all(isinstance(f["name"], str) for f in frames)
    (p,) = d["profiles"]
    assert p["type"] == "sampled" and p["unit"] == unit, p["unit"]
    assert len(p["samples"]) == len(p["weights"]) and p["endValue"] == sum(p["weights"])
    assert all(0 <= i < len(frames) for s in p["samples"] for i in s)
    return frames, p
frames, p = load(sys.argv[1] + "/cpu.speedscope.json", "none")
burn = sum(w for s, w in zip(p["samples"], p["weights"]) if any(frames[i]["name"] == "bl_burn_cpu" for i in s))
print("profile: %d of %d samples in bl_burn_cpu" % (burn, p["endValue"]))
assert p["endValue"] >= 100 and burn >= 0.8 * p["endValue"]
frames, p = load(sys.argv[1] + "/off.speedscope.json", "microseconds")
wait = sum(w for s, w in zip(p["samples"], p["weights"]) if any(frames[i]["name"] == "bl_gone_block_wait" for i in s))
print("offcputime: %d us under bl_gone_block_wait" % wait)
assert wait >= 10000
PY
finish formats
