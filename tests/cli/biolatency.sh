#!/bin/bash
# biolatency on a loop device the test makes (a file in its scratch directory,
# direct I/O): 100 direct reads and 30 direct writes of 4 KiB by dd give that
# disk 130 latencies with -D, and 100 "RS" and 30 "WS" with -D -F, the
# same numbers the kernel's own counters for the disk (/sys/block/NAME/stat)
# moved by. The loop device is detached whatever happens.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
loop=
cleanup() {
	kill $(jobs -p) 2>/dev/null || true
	[ -n "$loop" ] && losetup -d "$loop" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
. "$here/snoop_lib.sh"

truncate -s 16M "$tmp/disk.img"
loop=$(losetup -f --show --direct-io=on "$tmp/disk.img")
name=${loop#/dev/}
sleep 0.2 # whatever probes a new disk is done with it

start_tracer disks "$BPFLUA" run biolatency -D --format json
start_tracer flags "$BPFLUA" run biolatency -D -F --format json
start_tracer text "$BPFLUA" run biolatency -D -m
read -r r0 _ _ _ w0 _ </sys/block/"$name"/stat
dd if="$loop" of=/dev/null bs=4096 count=100 iflag=direct status=none
dd if=/dev/zero of="$loop" bs=4096 count=30 oflag=direct status=none
read -r r1 _ _ _ w1 _ </sys/block/"$name"/stat
for t in disks flags text; do stop_tracer $t; done
python3 - "$tmp" "$name" "$((r1 - r0))" "$((w1 - w0))" <<'PY' || exit 1
import json, sys
tmp, name, reads, writes = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
assert (reads, writes) == (100, 30), (reads, writes)
rows = [json.loads(l) for l in open(tmp + "/disks.out")]
mine = [r for r in rows if r["disk"] == name]
assert len(mine) == 1 and mine[0]["count"] == 130 == sum(b["count"] for b in mine[0]["hist"]), rows
rows = [json.loads(l) for l in open(tmp + "/flags.out")]
mine = {r["flags"]: r["count"] for r in rows if r["disk"] == name}
assert mine == {"RS": 100, "WS": 30}, mine
print(f"{name}: 100 reads and 30 writes, as its stat counters say")
PY
grep -q "^disk = $name\$" "$tmp/text.out" && grep -q 'msecs *: count *distribution' "$tmp/text.out" \
	|| { cat "$tmp/text.out"; echo "FAIL: text"; exit 1; }
"$BPFLUA" list >"$tmp/list"
grep -q '^biolatency ' "$tmp/list" || { cat "$tmp/list"; echo "FAIL: list"; exit 1; }
echo "biolatency: 4 checks passed"
