#!/bin/bash
# The compiled-program cache: a hit gives the same result as a miss and
# never maps LLVM; corrupt, truncated, foreign, wrong-owner and writable
# entries are refused and recompiled, and so is an entry whose stored key was
# rewritten to pass for another (the checksum covers the key); changed source
# or cflags miss. A cache directory that cannot be written is named and the
# run goes on, and --no-cache needs no cache at all; `cache list` as another
# user says why it cannot.
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
# ... and with its header's key rewritten to the name it was copied to
e1=$(ls -t "$BPFLUA_CACHE_DIR/programs/" | grep -v "$e5" | head -1)
cp "$BPFLUA_CACHE_DIR/programs/$e5" "$BPFLUA_CACHE_DIR/programs/$e1"
python3 -c 'import sys; sys.stdout.buffer.write(bytes.fromhex(sys.argv[1]))' "$e1" | dd of="$BPFLUA_CACHE_DIR/programs/$e1" bs=1 seek=56 conv=notrunc status=none
out=$(probe); expect "$out" "count 4321" "entry with a rewritten key: count"
checks=$((checks + 1)); grep -q "$e1 refused (checksum mismatch)" "$tmp/err" || { echo "FAIL: rewritten key not refused"; cat "$tmp/err"; exit 1; }

# an entry of another format version is a quiet miss, then replaced
e=$(ls -t "$BPFLUA_CACHE_DIR/programs/" | head -1)
printf '\x01' | dd of="$BPFLUA_CACHE_DIR/programs/$e" bs=1 seek=8 conv=notrunc status=none
out=$(probe); expect "$out" "count 4321" "old format: count"; expect "$out" "misses 1" "old format: recompiled"
checks=$((checks + 1)); ! grep -q "refused" "$tmp/err" || { echo "FAIL: old format entry alarmed"; cat "$tmp/err"; exit 1; }

# a cache directory others may write to is not used at all
chmod 777 "$BPFLUA_CACHE_DIR/programs"
out=$(probe); expect "$out" "hits 0" "writable dir: no hit"
checks=$((checks + 1)); grep -q "program cache is off" "$tmp/err" || { echo "FAIL: writable dir not refused"; cat "$tmp/err"; exit 1; }
chmod 700 "$BPFLUA_CACHE_DIR/programs"

# --no-cache compiles; cache list and clear
out=$("$BPFLUA" --no-cache "$here/cache_probe.lua" 2>/dev/null); expect "$out" "misses 1" "--no-cache"
"$BPFLUA" cache list | tail -1 | grep -c "compiled programs" >/dev/null || { echo "FAIL: cache list"; exit 1; }
"$BPFLUA" cache clear | grep -c "removed" >/dev/null || { echo "FAIL: cache clear"; exit 1; }
[ -z "$(ls "$BPFLUA_CACHE_DIR/programs")" ] || { echo "FAIL: cache clear left entries"; exit 1; }

# `cache list` as another user: why, and where
chmod 755 "$tmp"
checks=$((checks + 1))
nobody() { bash "$here/../tools/as_nobody.sh" "$BPFLUA" "$here/../.." "$@"; }
mkdir -m 700 "$tmp/rootcache"
if BPFLUA_CACHE_DIR="$tmp/rootcache" nobody cache list >"$tmp/out" 2>"$tmp/err"; then
	echo "FAIL: cache list of root's cache as nobody succeeded"; cat "$tmp/out"; exit 1
fi
grep -q "^bpflua: cannot use the program cache: $tmp/rootcache is owned by uid 0, not by uid $(id -u nobody)" "$tmp/err" ||
	{ echo "FAIL: cache list as nobody:"; cat "$tmp/err"; exit 1; }
checks=$((checks + 1))
out=$(BPFLUA_CACHE_DIR="$tmp/nobody-cache" nobody cache list 2>&1) &&
	[ "$out" = "0 compiled programs, 0 bytes, in $tmp/nobody-cache/programs" ] ||
	{ echo "FAIL: cache list of a missing cache as nobody: $out"; exit 1; }
[ ! -e "$tmp/nobody-cache" ] || { echo "FAIL: cache list made a cache"; exit 1; }

# a cache directory on a read-only file system: named, and the run goes on;
# with --no-cache, nothing is asked of it (tools/private_ns.sh keeps the
# read-only mount from the host)
mkdir "$tmp/ro"
bash "$here/../tools/private_ns.sh" bash -c '
	set -euo pipefail
	mount -t tmpfs -o ro none "$1"
	export BPFLUA_CACHE_DIR="$1/cache" TMPDIR="$2"
	"$BPFLUA" "$3" >"$4/ro.out" 2>"$4/ro.err"
	"$BPFLUA" --no-cache "$3" >"$4/nc.out" 2>"$4/nc.err"
' bash "$tmp/ro" "$tmp" "$here/cache_probe.lua" "$tmp" || { echo "FAIL: read-only cache dir"; cat "$tmp"/ro.* "$tmp"/nc.* 2>/dev/null; exit 1; }
expect "$(cat "$tmp/ro.out")" "count 4321" "read-only cache dir: count"
checks=$((checks + 1))
grep -q "the program cache is off: cannot create $tmp/ro/cache: Read-only file system" "$tmp/ro.err" &&
	grep -q "not using the kernel header cache: cannot create $tmp/ro/cache: Read-only file system" "$tmp/ro.err" ||
	{ echo "FAIL: read-only cache dir not named:"; cat "$tmp/ro.err"; exit 1; }
expect "$(cat "$tmp/nc.out")" "count 4321" "--no-cache, read-only cache dir: count"
checks=$((checks + 1))
! grep -q "cache" "$tmp/nc.err" || { echo "FAIL: --no-cache still asks for a cache:"; cat "$tmp/nc.err"; exit 1; }
[ -z "$(ls -A "$tmp" | grep '^bpflua-run-')" ] || { echo "FAIL: private header trees left in $tmp"; exit 1; }
echo "cache: $((checks + 4)) checks passed"
