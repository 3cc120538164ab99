#!/bin/bash
# execsnoop against strace -f as the referee: a shell runs a program of a
# name of its own 25 times with known arguments, once with 31 strings and
# once with a 300-byte one, then tries a missing file (ENOENT) and a file
# that is not executable (EACCES). Every exec strace saw is seen, with its
# pid, parent, result and arguments cut as BCC's (20 strings of 127 bytes);
# -x keeps only the failures, -n only the program's name.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$tmp"' EXIT
. "$here/snoop_lib.sh"

cp /bin/true "$tmp/bl_execprobe"
printf 'not a program\n' >"$tmp/bl_noexec"
chmod 644 "$tmp/bl_noexec"

start_tracer all "$BPFLUA" run execsnoop --format json
start_tracer fails "$BPFLUA" run execsnoop --format json -x
start_tracer named "$BPFLUA" run execsnoop -n bl_execprobe
strace -f -qq -e trace=execve -o "$tmp/strace" bash -c '
	echo $$ >"$4"
	for i in $(seq 1 25); do "$1" one "two words" "$i"; done
	"$1" $(seq 1 30)
	"$1" "$(printf "x%.0s" $(seq 1 300))"
	"$2" || true
	"$3" || true' bash "$tmp/bl_execprobe" "$tmp/bl_missing" "$tmp/bl_noexec" "$tmp/shpid" 2>/dev/null
for t in all fails named; do stop_tracer $t; done
python3 - "$tmp" <<'PY' || { echo "FAIL: execsnoop"; exit 1; }
import json, re, sys
tmp = sys.argv[1]
probe, missing, noexec = tmp + "/bl_execprobe", tmp + "/bl_missing", tmp + "/bl_noexec"
sh = int(open(tmp + "/shpid").read())
# the referee: strace's execve lines, as (path, result)
seen = []
for l in open(tmp + "/strace"):
    m = re.match(r'\d+ +execve\("([^"]*)".* = (-?\d+)', l)
    if m:
        seen.append((m.group(1), int(m.group(2))))
ref = {p: [r for q, r in seen if q == p] for p in (probe, missing, noexec)}
assert ref[probe] == [0] * 27 and ref[missing] == [-1] and ref[noexec] == [-1], ref

def load(tag):  # a last {"summary": ...} line says what the buffer lost
    rows = [json.loads(l) for l in open(f"{tmp}/{tag}.out") if l.startswith("{")]
    assert not [r for r in rows if "summary" in r], rows[-1]
    return rows
rows = load("all")
ours = [r for r in rows if r["args"][0] == probe]
assert len(ours) == 27, ours
assert all(r["ret"] == 0 and r["comm"] == "bl_execprobe" and r["ppid"] == sh for r in ours), ours
loops = sorted(r["args"] for r in ours if len(r["args"]) == 4)
assert loops == sorted([probe, "one", "two words", str(i)] for i in range(1, 26)), loops
many = [r for r in ours if len(r["args"]) > 4]
assert len(many) == 1 and many[0]["args"] == [probe] + [str(i) for i in range(1, 20)], many
assert many[0]["args_truncated"] is True, many
long = [r for r in ours if len(r["args"]) == 2]
assert len(long) == 1 and long[0]["args"][1] == "x" * 127, long
assert all(r["args_truncated"] is False for r in ours if r is not many[0]), ours
bad = {r["args"][0]: (r["ret"], r["errno"], r["ppid"]) for r in rows if r["args"][0] in (missing, noexec)}
assert bad == {missing: (-2, "ENOENT", sh), noexec: (-13, "EACCES", sh)}, bad

fails = load("fails")
assert all(r["ret"] < 0 for r in fails), fails
assert sorted(r["args"][0] for r in fails if r["args"][0].startswith(tmp)) == [missing, noexec], fails

# other tests may run programs of the same name at the same time: -n must keep
# nothing but that name, and ours are the lines naming our directory
named = open(tmp + "/named.out").read().splitlines()
assert named[0].split() == ["PCOMM", "PID", "PPID", "RET", "ARGS"], named
assert all(l.startswith("bl_execprobe ") for l in named[1:]), named
named = [l for l in named[1:] if f" {probe} " in l]
assert len(named) == 27, named
assert sum(l.endswith(" ...") for l in named) == 1, named
print("execsnoop: 27 execs and 2 failures, as strace saw them")
PY

# bad arguments are refused before anything is compiled
if "$BPFLUA" run execsnoop --max-args 21 2>"$tmp/err"; then echo "FAIL: --max-args 21 accepted"; exit 1; fi
grep -q "from 1 to 20" "$tmp/err" || { cat "$tmp/err"; exit 1; }
"$BPFLUA" run execsnoop --help >"$tmp/help"
grep -q -- '--max-args' "$tmp/help" || { echo "FAIL: --help"; exit 1; }
"$BPFLUA" list >"$tmp/list"
grep -q '^execsnoop ' "$tmp/list" || { cat "$tmp/list"; echo "FAIL: list"; exit 1; }
echo "execsnoop: 5 checks passed"
