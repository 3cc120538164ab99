#!/bin/bash
# oomkill on a memory cgroup the test makes, limited to 32 MiB, in which the
# workload allocates and touches 256 MiB: exactly one OOM kill, of the
# workload's pid, triggered by it, with its name and about 32 MiB of pages,
# as the kernel's own counts for that cgroup (oom_kill 1) and the
# workload's death by SIGKILL say. A cgroup v2 with the memory controller
# where the host has one, else the v1 memory hierarchy (this VM's). The
# cgroup is removed whatever happens.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
cg=
cleanup() {
	kill $(jobs -p) 2>/dev/null || true
	if [ -n "$cg" ] && [ -d "$cg" ]; then
		for p in $(cat "$cg/cgroup.procs" 2>/dev/null); do kill -9 "$p" 2>/dev/null || true; done
		for _ in $(seq 1 100); do rmdir "$cg" 2>/dev/null && break; sleep 0.05; done
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
. "$here/snoop_lib.sh"

v2=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/mounts)
if [ -n "$v2" ] && grep -qw memory "$v2/cgroup.controllers" 2>/dev/null; then
	grep -qw memory "$v2/cgroup.subtree_control" || echo +memory >"$v2/cgroup.subtree_control"
	cg="$v2/bl_oomkill_$$"
	mkdir "$cg"
	echo 32M >"$cg/memory.max"
	echo 0 >"$cg/memory.swap.max" 2>/dev/null || true
	ooms() { awk '$1 == "oom_kill" { print $2 }' "$cg/memory.events"; }
else
	v1=$(awk '$3 == "cgroup" && $4 ~ /(^|,)memory(,|$)/ { print $2; exit }' /proc/mounts)
	[ -n "$v1" ] || { echo "FAIL: no memory cgroup controller on this host"; exit 1; }
	cg="$v1/bl_oomkill_$$"
	mkdir "$cg"
	echo $((32 << 20)) >"$cg/memory.limit_in_bytes"
	ooms() { awk '$1 == "oom_kill" { print $2 }' "$cg/memory.oom_control"; }
fi

start_tracer json "$BPFLUA" run oomkill --format json
start_tracer text "$BPFLUA" run oomkill
cp "$BPFLUA_WORKLOAD" "$tmp/bl_hog"
rc=0
bash -c 'echo $$ >"$1/cgroup.procs" && exec "$2" hog 256' bash "$cg" "$tmp/bl_hog" >"$tmp/pid" || rc=$?
for t in json text; do stop_tracer $t; done
pid=$(head -1 "$tmp/pid")
[ "$rc" = 137 ] || { echo "FAIL: the hog ended with $rc, not killed by SIGKILL (137)"; exit 1; }
[ "$(ooms)" = 1 ] || { echo "FAIL: the cgroup counts $(ooms) OOM kills, not 1"; exit 1; }
python3 - "$tmp" "$pid" <<'PY' || exit 1
import json, os, re, subprocess, sys
tmp, pid = sys.argv[1], int(sys.argv[2])
rows = [json.loads(l) for l in open(tmp + "/json.out")]
mine = [r for r in rows if r["victim_pid"] == pid or r["trigger_pid"] == pid]
assert len(mine) == 1, rows
r = mine[0]
assert r["victim_pid"] == r["trigger_pid"] == pid and r["victim_comm"] == r["trigger_comm"] == "bl_hog", r
if "rss_pages" in r:  # Linux 6.8+: the victim's memory, at the 32 MiB limit
    kb = os.sysconf("SC_PAGE_SIZE") // 1024
    pages = 32 * 1024 // kb
    assert 0.75 * pages <= r["rss_pages"] <= 1.1 * pages and r["total_vm_pages"] >= r["rss_pages"], r
    # and to the page, what the OOM killer itself wrote to the kernel log
    log = subprocess.run(["dmesg"], capture_output=True, text=True).stdout
    m = re.findall(rf"Killed process {pid} \(bl_hog\) total-vm:(\d+)kB, anon-rss:(\d+)kB, "
                   r"file-rss:(\d+)kB, shmem-rss:(\d+)kB", log)
    if m:
        vm, anon, file, shmem = map(int, m[-1])
        assert (r["rss_pages"], r["total_vm_pages"]) == ((anon + file + shmem) // kb, vm // kb), (r, m)
        print("the kernel log agrees:", m[-1])
print(f"oomkill: one victim, pid {pid} (bl_hog), {r.get('rss_pages')} pages")
PY
awk -v p="$pid" '$2 == p && $3 == "bl_hog" && $4 == p && $5 == "bl_hog" { n++ } END { exit n != 1 }' "$tmp/text.out" \
	|| { cat "$tmp/text.out"; echo "FAIL: text"; exit 1; }
"$BPFLUA" list >"$tmp/list"
grep -q '^oomkill ' "$tmp/list" || { cat "$tmp/list"; echo "FAIL: list"; exit 1; }
echo "oomkill: 5 checks passed"
