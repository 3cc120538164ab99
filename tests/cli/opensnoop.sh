#!/bin/bash
# opensnoop against strace -f as the referee: a program of a name of its own
# opens a file 40 times and a missing one 15 times (ENOENT). Every one of
# them is seen, with its descriptor or errno name; -x keeps only the 15
# failures, -n only that program, -p only its pid.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$tmp"' EXIT
. "$here/snoop_lib.sh"

cp "$BPFLUA_WORKLOAD" "$tmp/bl_opener"
echo data >"$tmp/file"

start_tracer all "$BPFLUA" run opensnoop --format json
start_tracer fails "$BPFLUA" run opensnoop --format json -x -n bl_opener
start_tracer named "$BPFLUA" run opensnoop -e -n bl_opener
strace -f -qq -e trace=open,openat,openat2 -o "$tmp/strace" "$tmp/bl_opener" opens 40 15 "$tmp/file" >"$tmp/pid"
for t in all fails named; do stop_tracer $t; done
python3 - "$tmp" <<'PY' || { echo "FAIL: opensnoop"; exit 1; }
import json, re, sys
tmp = sys.argv[1]
pid = int(open(tmp + "/pid").readline())
f, missing = tmp + "/file", tmp + "/file.missing"
ref = {f: [], missing: []}
for l in open(tmp + "/strace"):
    m = re.match(r'\d+ +open(?:at2?)?\((?:AT_FDCWD, )?"([^"]*)".* = (-?\d+)( \w+)?', l)
    if m and m.group(1) in ref:
        ref[m.group(1)].append((m.group(3) or "").strip() or "ok")
assert ref == {f: ["ok"] * 40, missing: ["ENOENT"] * 15}, ref

def load(tag):  # a last {"summary": ...} line says what the buffer lost
    rows = [json.loads(l) for l in open(f"{tmp}/{tag}.out") if l.startswith("{")]
    assert not [r for r in rows if "summary" in r], rows[-1]
    return rows
rows = load("all")
ours = [r for r in rows if r["path"] in (f, missing)]
assert all(r["pid"] == pid and r["comm"] == "bl_opener" for r in ours), ours
ok = [r for r in ours if r["path"] == f]
assert len(ok) == 40 and all(r["fd"] >= 3 and r["ret"] == r["fd"] and "err" not in r for r in ok), ok
bad = [r for r in ours if r["path"] == missing]
assert len(bad) == 15 and all(r["fd"] == -1 and r["ret"] == -2 and r["err"] == "ENOENT" for r in bad), bad

# another test may run a bl_opener of its own at the same time: -x -n keeps
# only that name's failures, and ours are those in our directory
fails = load("fails")
assert all(r["comm"] == "bl_opener" and r["ret"] < 0 for r in fails), fails
fails = [r for r in fails if r["path"].startswith(tmp + "/")]
assert len(fails) == 15 and all(r["path"] == missing and r["err"] == "ENOENT" for r in fails), fails

text = open(tmp + "/named.out").read().splitlines()
assert text[0].split() == ["PID", "COMM", "FD", "ERR", "FLAGS", "PATH"], text[0]
mine = [l.split() for l in text[1:] if l.split()[-1] in (f, missing)]
assert sum(1 for l in mine if l[3] == "0" and l[4] == "0000000") == 40, mine
assert sum(1 for l in mine if l[2:4] == ["-1", "ENOENT"]) == 15, mine
assert all(l[1] == "bl_opener" for l in (x.split() for x in text[1:])), text
print("opensnoop: 40 opens and 15 ENOENT, as strace saw them")
PY

# -p: the opens of that process alone, exactly
"$BPFLUA" run opensnoop -x --format json -c "$tmp/bl_opener opens 5 7 $tmp/file" >"$tmp/c.out" 2>"$tmp/c.err" \
	|| { cat "$tmp/c.err"; exit 1; }
[ "$(grep -c '"err":"ENOENT","flags":0,"path":"'"$tmp"'/file.missing"' "$tmp/c.out")" = 7 ] \
	|| { cat "$tmp/c.out"; echo "FAIL: -c with -x: 7 failures"; exit 1; }
[ "$(grep -c '^{' "$tmp/c.out")" = 7 ] || { cat "$tmp/c.out"; echo "FAIL: -c with -x: nothing else"; exit 1; }

"$BPFLUA" run opensnoop --help >"$tmp/help"
grep -q -- '--fails' "$tmp/help" || { echo "FAIL: --help"; exit 1; }
"$BPFLUA" list >"$tmp/list"
grep -q '^opensnoop ' "$tmp/list" || { cat "$tmp/list"; echo "FAIL: list"; exit 1; }
echo "opensnoop: 4 checks passed"
