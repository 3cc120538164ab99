#!/bin/bash
# A process may call itself anything: escape sequences, newlines, bytes that
# are not UTF-8. Text output shows such a name escaped on one line, JSON stays
# valid UTF-8, SVG stays XML and folded stacks stay one stack per line.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

# ESC ] 0 ; p w n BEL (sets a terminal's title), newline, 0xff 0xfe, X
hex=1b5d303b70776e070afffe58
shown='\x1b]0;pwn\x07\n\xff\xfeX'
frame='\x1b]0:pwn\x07\n\xff\xfeX' # as a stack frame: ";" separates frames
named() { echo -- "$BPFLUA_WORKLOAD" named $hex "$@"; }

no_raw_bytes() { # $1 file: no control character but newline, no invalid UTF-8
	python3 - "$1" <<'PY'
import sys
data = open(sys.argv[1], "rb").read()
data.decode("utf-8")  # raises on invalid UTF-8
bad = [c for c in data if (c < 0x20 and c != 0x0a) or c == 0x7f]
sys.exit(1 if bad else 0)
PY
}

# syscount, text: the name escaped, on one row with its count
"$BPFLUA" run syscount -P -s getppid $(named 4321 0) >"$tmp/text" 2>"$tmp/err" || bad "syscount text failed: $(cat "$tmp/err")"
check "syscount text has no raw control bytes or invalid UTF-8" no_raw_bytes "$tmp/text"
n=$((n + 1))
grep -Fq "$shown" "$tmp/text" && grep -F "$shown" "$tmp/text" | grep -Eq ' 4321$' ||
	{ bad "syscount text: no row '$shown ... 4321'"; cat "$tmp/text"; }

# syscount, JSON: every line is JSON, the name with U+FFFD for the bad bytes
"$BPFLUA" run syscount -P -s getppid --format json -o "$tmp/json" $(named 4321 0) >/dev/null 2>"$tmp/err" ||
	bad "syscount json failed"
check "syscount json: valid, with the name and its count" python3 - "$tmp/json" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1], "rb").read().decode("utf-8").splitlines() if l.strip()]
want = "\x1b]0;pwn\x07\n\ufffd\ufffdX"
sys.exit(0 if any(r.get("comm") == want and r.get("count") == 4321 for r in rows) else 1)
PY

# a one-liner keyed by comm: one line per key
"$BPFLUA" -e "count{ 't:syscalls:sys_enter_getppid', by = 'comm' }
	os.execute('$BPFLUA_WORKLOAD named $hex 4321 0 >/dev/null')" -d 0.1 >"$tmp/ol" 2>&1
check "one-liner output has no raw control bytes" no_raw_bytes "$tmp/ol"
check "one-liner: the escaped name and its count on one line" grep -Fqx "@[$shown]: 4321" "$tmp/ol"

# profile: SVG parses as XML, folded lines are "frames count"
"$BPFLUA" run profile -F 199 --format svg -o "$tmp/cpu.svg" $(named 0 1) 2>"$tmp/err" || bad "profile svg failed: $(cat "$tmp/err")"
check "the SVG parses, and names the process" python3 - "$tmp/cpu.svg" "$frame" <<'PY'
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
titles = [t.text or "" for t in root.iter("{http://www.w3.org/2000/svg}title")]
sys.exit(0 if any(sys.argv[2] in t for t in titles) else 1)
PY
"$BPFLUA" run profile -F 199 --format folded -o "$tmp/folded" $(named 0 1) >/dev/null 2>"$tmp/err" ||
	bad "profile folded failed"
check "folded: no raw control bytes" no_raw_bytes "$tmp/folded"
check "folded: every line is frames and a count" python3 - "$tmp/folded" "$frame" <<'PY'
import re, sys
lines = open(sys.argv[1], encoding="utf-8").read().splitlines()
ok = lines and all(re.fullmatch(r"[^ ].* [0-9]+", l) for l in lines)
sys.exit(0 if ok and any(l.startswith(sys.argv[2] + ";") for l in lines) else 1)
PY

finish "cli names"
