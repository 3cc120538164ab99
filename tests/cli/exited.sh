#!/bin/bash
# Stacks of processes that are gone by the time they are resolved: a short
# command's samples (profile, offcputime, a one-liner) name its functions
# from the snapshot of its mappings taken while it ran, also when its
# executable was deleted or lived in another mount namespace. Before the
# snapshots these were all [unknown].
source "$(dirname "$0")/lib.sh"
# a name of its own: the test runs with and without BTF at the same time
NAME=bl_gone$$
W="$tmp/$NAME"
cp "$BPFLUA_WORKLOAD" "$W"

# samples in bl_gone_spin() (under main) and of the whole process, and how
# many a 999 Hz profile must see at least: 80% of its CPU time as the
# workload measured it (stderr: "cpu_ms N")
spin_check() { # $1 what, $2 samples in bl_gone_spin, $3 all samples of the process, $4 stderr
	local want
	want=$(awk '/^cpu_ms / { printf "%d\n", $2 * 999 * 0.8 / 1000 }' "$4")
	echo "$1: $2 of $3 samples in bl_gone_spin (want $want)"
	[ -n "$want" ] && [ "$want" -ge 40 ] && [ "$2" -ge "$want" ] && [ "$(( $2 * 10 ))" -ge "$(( $3 * 9 ))" ]
}

json_spin() { # stacks of comm $2 in the JSON rows of $1: "spin all"
	python3 - "$1" "$2" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]  # the workload prints too
mine = [r for r in rows if r["comm"] == sys.argv[2]]
spin = sum(r["count"] for r in mine if "bl_gone_spin" in r["ustack"] and "main" in r["ustack"])
print(spin, sum(r["count"] for r in mine))
PY
}

# profile -c: 100 ms of CPU, then the command exits at once, before the
# profile first reads its stacks (every 0.25 s)
"$BPFLUA" run profile -F 999 --format json -c "$W gone-burn 100" >"$tmp/json" 2>"$tmp/err" || { cat "$tmp/err"; exit 1; }
read -r spin all < <(json_spin "$tmp/json" "$NAME")
check "profile: a command gone before its stacks were read" spin_check profile "$spin" "$all" "$tmp/err"

# the same program run from a file it deletes as it starts
cp "$BPFLUA_WORKLOAD" "$W.del"
"$BPFLUA" run profile -F 999 --format json -c "$W.del gone-burn 100 unlink" >"$tmp/json" 2>"$tmp/err" \
	|| { cat "$tmp/err"; exit 1; }
check "the workload deleted its executable" test ! -e "$W.del"
read -r spin all < <(json_spin "$tmp/json" "$(basename "$W.del" | cut -c1-15)")
check "profile: a deleted executable" spin_check "profile, deleted" "$spin" "$all" "$tmp/err"

# a program seen only in its own mount namespace (a tmpfs mounted there),
# run by exec in the pid -- follows
mkdir "$tmp/hidden"
"$BPFLUA" run profile -F 999 --format json -- "$(dirname "$0")/../tools/private_ns.sh" sh -c \
	"mount -t tmpfs bl_hidden '$tmp/hidden' && cp '$BPFLUA_WORKLOAD' '$tmp/hidden/$NAME' &&
	 exec '$tmp/hidden/$NAME' gone-burn 100" >"$tmp/json" 2>"$tmp/err" || { cat "$tmp/err"; exit 1; }
check "the program was in another mount namespace" test ! -e "$tmp/hidden/$NAME"
read -r spin all < <(json_spin "$tmp/json" "$NAME")
check "profile: a program in another mount namespace" spin_check "profile, mount namespace" "$spin" "$all" "$tmp/err"

# offcputime -c: a thread blocks 5 times for 10 ms in bl_gone_block_wait(),
# then the process exits, before offcputime first reads its stacks (0.1 s).
# This VM's sched_switch misses some switches for every consumer (about one
# in 200, more on a loaded host: tests/cli/offcputime.sh), so what is
# checked is the stack: one row for the thread, in state S, at most 5
# blocks, each at least 10 ms. (The one-liner below counts exactly.)
"$BPFLUA" run offcputime --format json -c "$W gone-block 5 10" >"$tmp/json" 2>"$tmp/err" || { cat "$tmp/err"; exit 1; }
tid=$(awk '/^gone / { print $4 }' "$tmp/json")
check "offcputime: the blocks in bl_gone_block_wait, the stack resolved" python3 - "$tmp/json" "$tid" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
mine = [r for r in rows if r["tid"] == int(sys.argv[2]) and r["state"] == "S"]
waits = [r for r in mine if r["ustack"][1:3] == ["bl_gone_block_wait", "bl_gone_blocker"]]
print("offcputime:", [(r["blocks"], r["ustack"]) for r in mine])
sys.exit(not (len(waits) == 1 and 1 <= waits[0]["blocks"] <= 5 and waits[0]["us"] >= waits[0]["blocks"] * 10000
              and all(r in waits for r in mine)))
PY

# a one-liner counting the user stacks of a uprobe in a process that exits
# (after 10 blocks of 30 ms) before the one-liner's first look (0.5 s)
"$BPFLUA" -e "count{'u:$W:bl_gone_block_wait', by = 'ustack'}
              local c = BPF.spawn{ '$W', 'gone-block', '10', '30' }
              c:start()
              wait(1)
              c:wait(true)" -d 0.1 >"$tmp/out" 2>"$tmp/err" || { cat "$tmp/err"; exit 1; }
awk '/^@\[/ { stack = "" } /^\t/ { stack = stack $1 ";" } /^\]: / { print stack, $2 }' "$tmp/out" >"$tmp/rows"
cat "$tmp/rows"
check "one-liner: 10 calls, one user stack, resolved after the process exited" \
	grep -qx 'bl_gone_block_wait;bl_gone_blocker;[^ ]* 10' "$tmp/rows"
check "one-liner: no other stack" test "$(wc -l <"$tmp/rows")" = 1
finish exited
