#!/bin/bash
# The compiled-program cache: a hit gives the same result as a miss and
# never maps LLVM; corrupt, truncated, foreign, wrong-owner and writable
# entries are refused and recompiled; changed source or cflags miss.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export BPFLUA_CACHE_DIR="$tmp/cache"
checks=0

probe() { # $1: cflag; prints the helper's facts
	"$BPFLUA" "$here/cache_probe.lua" "${1:--DSTEP=1}" 2>"$tmp/err" || { cat "$tmp/err"; exit 1; }
}
expect() { # $1: output, $2: wanted line, $3: what
	checks=$((checks + 1))
	grep -qx "$2" <<<"$1" || { echo "FAIL: $3: want '$2' in:"; echo "$1"; cat "$tmp/err"; exit 1; }
}
entry() { ls "$BPFLUA_CACHE_DIR/programs/" | head -1; }

out=$(probe); expect "$out" "count 4321" "cold count"; expect "$out" "misses 1" "cold run misses"
expect "$out" "llvm absent" "LLVM never mapped by the tracer (compiled in a child)"
[ "$(stat -c %a "$BPFLUA_CACHE_DIR/programs")" = 700 ] || { echo "FAIL: cache dir mode"; exit 1; }
out=$(probe); expect "$out" "count 4321" "warm count"; expect "$out" "hits 1" "warm run hits"
expect "$out" "misses 0" "warm run compiles nothing"
expect "$out" "llvm absent" "warm run: no LLVM"; expect "$out" "libbcc absent" "warm run: no libbcc"

# a changed cflag or source misses
out=$(probe -DSTEP=2); expect "$out" "count 8642" "changed cflag"; expect "$out" "misses 1" "changed cflag misses"
sed 's/__sync_fetch_and_add(n, STEP)/__sync_fetch_and_add(n, STEP * 3)/' "$here/cache_probe.lua" >"$tmp/changed.lua"
"$BPFLUA" "$tmp/changed.lua" >"$tmp/out" 2>"$tmp/err"
out=$(cat "$tmp/out"); expect "$out" "count 12963" "changed source"; expect "$out" "misses 1" "changed source misses"

refused() { # $1: what was done to the entry; the next run must refuse it and recompile
	out=$(probe)
	expect "$out" "count 4321" "$1: count"
	expect "$out" "misses 1" "$1: recompiled"
	checks=$((checks + 1))
	grep -q "refused" "$tmp/err" || { echo "FAIL: $1: no 'refused' warning"; cat "$tmp/err"; exit 1; }
	out=$(probe); expect "$out" "hits 1" "$1: the fresh entry is used"
}

rm -rf "$BPFLUA_CACHE_DIR"; probe >/dev/null; e=$(entry)
printf '\xff' | dd of="$BPFLUA_CACHE_DIR/programs/$e" bs=1 seek=200 conv=notrunc status=none
refused "corrupt byte"
e=$(entry); truncate -s 100 "$BPFLUA_CACHE_DIR/programs/$e"; refused "truncated"
e=$(entry); chown nobody "$BPFLUA_CACHE_DIR/programs/$e"; refused "owned by another user"
e=$(entry); chmod 666 "$BPFLUA_CACHE_DIR/programs/$e"; refused "world-writable"
# an entry copied under another program's key ("foreign")
e1=$(entry)
"$BPFLUA" "$here/cache_probe.lua" -DSTEP=5 >/dev/null 2>&1
e5=$(ls "$BPFLUA_CACHE_DIR/programs/" | grep -v "$e1")
cp "$BPFLUA_CACHE_DIR/programs/$e5" "$BPFLUA_CACHE_DIR/programs/$e1"
out=$(probe); expect "$out" "count 4321" "foreign entry: count"
checks=$((checks + 1)); grep -q "stored under another key" "$tmp/err" || { echo "FAIL: foreign entry used"; exit 1; }

# a cache directory others may write to is not used at all
chmod 777 "$BPFLUA_CACHE_DIR/programs"
out=$(probe); expect "$out" "hits 0" "writable dir: no hit"
checks=$((checks + 1)); grep -q "program cache is off" "$tmp/err" || { echo "FAIL: writable dir not refused"; cat "$tmp/err"; exit 1; }
chmod 700 "$BPFLUA_CACHE_DIR/programs"

# --no-cache compiles; cache list and clear
out=$("$BPFLUA" --no-cache "$here/cache_probe.lua" 2>/dev/null); expect "$out" "misses 1" "--no-cache"
"$BPFLUA" cache list | tail -1 | grep -q "compiled programs" || { echo "FAIL: cache list"; exit 1; }
"$BPFLUA" cache clear | grep -q "removed" || { echo "FAIL: cache clear"; exit 1; }
[ -z "$(ls "$BPFLUA_CACHE_DIR/programs")" ] || { echo "FAIL: cache clear left entries"; exit 1; }
echo "cache: $((checks + 4)) checks passed"
