#!/bin/bash
# One-liner rows: keys that are different stacks stay different rows. Three
# forked processes each call getppid 30 times from one call site and 20
# from another of the same function: bpftrace's @[ustack] = count() shows
# six rows totalling 150, and so must count{by = "ustack"} (the pid, then
# the addresses, telling apart what prints the same). Negative values in a
# hist get a row of their own; zero is "0 -> 1" in one-liners, syscount's
# JSON and memleak's sizes.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
NAME=blk$$
W="$tmp/$NAME"
cp "$BPFLUA_WORKLOAD" "$W"

# the counts of a map's rows, sorted, from bpftrace's or bpflua's text
row_counts() { grep -Eo '\]: [0-9]+$' "$1" | grep -Eo '[0-9]+$' | sort -n | tr '\n' ' '; }

"$BPFLUA" -e "count{'t:syscalls:sys_enter_getppid', by = 'ustack', filter = 'comm_is(\"$NAME\")'}" -d 60 \
	>"$tmp/bl.out" 2>"$tmp/bl.err" &
bl=$!
referee=""
if command -v bpftrace >/dev/null; then
	# BEGIN runs once every other probe is attached. The referee was this
	# test's one unbounded wait: a fresh root's run of the no-BTF copy hung
	# until ctest's 300 s, with no output. Without BTF bpftrace's start
	# (clang over a header tree) is slow under a loaded suite: a longer wait
	# for it, and `timeout` ends it whatever happens
	timeout -s INT 150 bpftrace -e "BEGIN { printf(\"ready\n\"); } tracepoint:syscalls:sys_enter_getppid /comm == \"$NAME\"/ { @[ustack] = count(); }" \
		>"$tmp/bt.out" 2>"$tmp/bt.err" &
	referee=$!
	wait_for "$tmp/bt.out" ready 120 || bad "bpftrace never attached"
fi
wait_for "$tmp/bl.err" Attached || bad "the one-liner never attached"
# each child sleeps a second before it exits, so its stacks resolve
"$W" children 3 1 >/dev/null 2>"$tmp/wl.err"
sleep 0.6
kill -INT $bl $referee
wait $bl || bad "the one-liner failed"
[ -n "$referee" ] && wait $referee
cat "$tmp/bl.out"
total=$(sed -n 's/^getppid calls: //p' "$tmp/wl.err")
check "the workload made 150 calls" test "$total" = 150
check "count by ustack: six rows, 20 20 20 30 30 30" test "$(row_counts "$tmp/bl.out")" = "20 20 20 30 30 30 "
check "count by ustack: the rows total the workload's $total" \
	test "$(grep -Eo '\]: [0-9]+$' "$tmp/bl.out" | awk '{ s += $2 } END { print s }')" = "$total"
check "count by ustack: the call sites' function is named" grep -q $'^\tbl_two_sites' "$tmp/bl.out"
if [ -n "$referee" ]; then
	echo "bpftrace: $(row_counts "$tmp/bt.out")"
	check "bpftrace @[ustack] = count() agrees" test "$(row_counts "$tmp/bt.out")" = "$(row_counts "$tmp/bl.out")"
fi

# hist of negative values: their own row, not 64 empty ones; 7 failed
# opens (-ENOENT), the zero in "0 -> 1"
"$BPFLUA" -e "hist{'t:syscalls:sys_exit_openat', value = 'args.ret', filter = 'comm_is(\"$NAME\")'}
              hist{'t:syscalls:sys_exit_getppid', value = 'args.ret * 0', filter = 'comm_is(\"$NAME\")', name = 'zero'}
              os.execute('$W openfail 7 >/dev/null; $W getppid 5 >/dev/null')" -d 0.1 >"$tmp/hist.out" 2>"$tmp/hist.err" ||
	bad "hist one-liner failed"
cat "$tmp/hist.out"
check "hist: negatives in one row, -inf -> -1 : 7" grep -Eq '^ +-inf -> -1 +: 7 ' "$tmp/hist.out"
check "hist: no row beyond 2^32" bash -c "! grep -Eq '[0-9]{11,} ->' '$tmp/hist.out'"
check "hist: 5 zeros in 0 -> 1" grep -Eq '^ +0 -> 1 +: 5 ' "$tmp/hist.out"

# syscount's JSON histogram: sub-microsecond calls are from 0
"$BPFLUA" run syscount -L --format json -o "$tmp/sc.json" -- "$W" getppid 2000 >/dev/null 2>&1 || bad "syscount -L"
check "syscount JSON: the first bucket is from_us 0 to_us 1" python3 - "$tmp/sc.json" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
r = [r for r in rows if r["syscall"] == "getppid"][0]
print("syscount getppid hist:", r["hist"][:2])
sys.exit(not (r["count"] == 2000 and r["hist"][0]["from_us"] == 0 and r["hist"][0]["to_us"] == 1
              and sum(b["count"] for b in r["hist"]) == 2000))
PY
# memleak --sizes: 1-byte blocks (10 leaked, 10 freed) in 0 -> 1
"$BPFLUA" run memleak --sizes -- "$W" leak 10 1 >"$tmp/ml.out" 2>&1 || bad "memleak --sizes"
check "memleak sizes: 20 one-byte blocks in 0 -> 1" grep -Eq '^ +0 -> 1 +: 20 ' "$tmp/ml.out"
finish oneliner_keys
