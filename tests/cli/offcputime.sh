#!/bin/bash
# offcputime -c on a thread that blocks 20 times for 10 ms in
# bl_block_wait(): 20 blocks in state S under that stack, their time at
# least 20 x 10 ms and at most the wall time the thread's loop took (the
# workload measures it). A block whose switch back onto the CPU the kernel
# does not show is lost: on this VM, switches away from a process of the
# host's own agent are missing from sched_switch for every consumer (ftrace
# too), about one block in 200; so 18-20 blocks, each at least 10 ms.
# -m/-M leave blocks out by length (each of these is at least 10 ms, and
# none as long as 10 s, however busy the host), -s by state; folded stacks
# and the SVG carry the same microseconds.
set -euo pipefail
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
blocker="$BPFLUA_WORKLOAD block 20 10"

run() { # TAG ARGS...
	local tag=$1; shift
	"$BPFLUA" run offcputime "$@" -c "$blocker" >"$tmp/$tag" 2>"$tmp/$tag.err" || { cat "$tmp/$tag.err"; echo "FAIL: offcputime $*"; exit 1; }
}
run json --format json
run short --format json -M 5000
run long --format json -m 10000000
run window --format json -m 5000 -M 10000000 -s S
run dstate --format json -s D
run folded --format folded
run svg --format svg
python3 - "$tmp" <<'PY' || exit 1
import json, re, sys, xml.etree.ElementTree as ET
tmp = sys.argv[1]
def load(tag):
    lines = open(f"{tmp}/{tag}").read().splitlines()
    tid, wall = map(int, [l for l in lines if l.startswith("blocker ")][0].split()[1:])
    return tid, wall, [json.loads(l) for l in lines if l.startswith("{")]
def ours(rows, tid):  # its sleeps (on a busy host it is also preempted in there, state R)
    return [r for r in rows if r.get("tid") == tid and r["state"] == "S" and "bl_block_wait" in r["ustack"]]
def bounded(blocks, us, wall, what):
    assert 18 <= blocks <= 20 and blocks * 10000 <= us <= wall, (what, blocks, us, wall)
    print(f"{what}: {blocks} blocks, {us} us off-CPU; the loop took {wall} us")

tid, wall, rows = load("json")
mine = ours(rows, tid)
assert len(mine) == 1 and mine[0]["comm"] == "bl_blocker", mine
u = mine[0]["ustack"]
assert u[u.index("bl_block_wait") + 1] == "bl_blocker", u  # innermost first
assert "do_nanosleep_[k]" in mine[0]["kstack"] and mine[0]["kstack"][0] == "__schedule_[k]", mine
bounded(mine[0]["blocks"], mine[0]["us"], wall, "json")

for tag in ("short", "long"):
    tid, wall, rows = load(tag)
    assert ours(rows, tid) == [], (tag, ours(rows, tid))
tid, wall, rows = load("window")
mine = ours(rows, tid)
assert len(mine) == 1 and all(r["state"] == "S" for r in rows if "state" in r), rows
bounded(mine[0]["blocks"], mine[0]["us"], wall, "-m 5000 -M 10000000 -s S")
tid, wall, rows = load("dstate")
assert all(r["state"] == "D" for r in rows if "state" in r) and ours(rows, tid) == [], rows

lines = open(f"{tmp}/folded").read().splitlines()
tid, wall = map(int, [l for l in lines if l.startswith("blocker ")][0].split()[1:])
folded = [l for l in lines if l.startswith("bl_blocker;[S];") and ";bl_block_wait;" in l]
assert len(folded) == 1, lines
us = int(folded[0].rsplit(" ", 1)[1])
assert 18 * 10000 <= us <= wall, (us, wall)
print("folded:", us, "us under bl_block_wait")

text = open(f"{tmp}/svg").read()
head, text = text[:text.index("<?xml")], text[text.index("<?xml"):]  # the workload's lines come first
wall = int([l for l in head.splitlines() if l.startswith("blocker ")][0].split()[2])
root = ET.fromstring(text)
ns = "{http://www.w3.org/2000/svg}"
titles = [t.text for t in root.iter(ns + "title")]
# one frame per path to it: [S], and [R] where it was preempted in there
us = sum(int(re.match(r"bl_block_wait \((\d+) us, ", t).group(1)) for t in titles if t.startswith("bl_block_wait "))
assert 18 * 10000 <= us <= wall, (us, wall, titles)
print("svg:", us, "us in bl_block_wait frames")
PY

if "$BPFLUA" run offcputime -m 100 -M 10 2>"$tmp/err"; then echo "FAIL: -M below -m accepted"; exit 1; fi
grep -q -- "-M must not be below -m" "$tmp/err" || { cat "$tmp/err"; exit 1; }
if "$BPFLUA" run offcputime -s Q 2>"$tmp/err"; then echo "FAIL: -s Q accepted"; exit 1; fi
"$BPFLUA" list >"$tmp/list"
grep -q '^offcputime ' "$tmp/list" || { cat "$tmp/list"; echo "FAIL: list"; exit 1; }
echo "offcputime: 11 checks passed"
