#!/bin/bash
# A traced command is the command and every process it starts, as strace -f
# counts them: syscount of a shell and of a fork-heavy workload equals
# strace -f -c syscall by syscall; -c with shell syntax traces what the
# shell runs; -p PID --children follows the live descendants and the new
# ones; profile and memleak follow a child too.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
W="$BPFLUA_WORKLOAD"
command -v strace >/dev/null || { echo "strace is missing (dev.sh TEST_PKGS installs it)"; exit 1; }

# "NAME COUNT" per syscall from syscount's JSON report
bl_counts() {
	python3 -c 'import json, sys
for l in open(sys.argv[1]):
    if l.startswith("{\"syscall\""):
        r = json.loads(l); print(r["syscall"], r["count"])' "$1" | sort
}

# strace -f -c's counts, less exit_group: strace counts a call as it
# returns, and exit_group never does. Its count is checked on its own:
# one per process strace saw exit.
st_counts() {
	awk 'NF == 2 && $2 ~ /^[0-9]+$/ && $1 != "total" && $1 != "exit_group" { print $1, $2 }' "$1" | sort
}

# compare DESCRIPTION SYSCOUNT_ARGS... :: COMMAND...: syscount with those
# options against strace -f -c of COMMAND, both with stdin and stdout on
# /dev/null
compare() {
	local what=$1; shift
	local opts=()
	while [ "$1" != "::" ]; do opts+=("$1"); shift; done
	shift
	n=$((n + 1))
	"$BPFLUA" run syscount -T 0 --format json -o "$tmp/bl.json" "${opts[@]}" </dev/null >/dev/null 2>"$tmp/bl.err" ||
		{ bad "$what: syscount failed"; cat "$tmp/bl.err"; return; }
	strace -f -c -U name,calls -o "$tmp/st.txt" "$@" </dev/null >/dev/null 2>&1 || { bad "$what: strace failed"; return; }
	strace -f -e trace=none -o "$tmp/exits.txt" "$@" </dev/null >/dev/null 2>&1
	bl_counts "$tmp/bl.json" | grep -v '^exit_group ' >"$tmp/bl.txt"
	st_counts "$tmp/st.txt" >"$tmp/st.sorted"
	local exits bl_exits
	exits=$(grep -c '+++ exited with' "$tmp/exits.txt")
	bl_exits=$(bl_counts "$tmp/bl.json" | awk '$1 == "exit_group" { print $2 }')
	if ! diff "$tmp/st.sorted" "$tmp/bl.txt" >"$tmp/diff"; then
		bad "$what: syscount differs from strace -f -c (< strace, > bpflua)"
		cat "$tmp/diff"
	elif [ "$exits" != "$bl_exits" ]; then
		bad "$what: exit_group $bl_exits, strace saw $exits processes exit"
	else
		echo "$what: $(wc -l <"$tmp/bl.txt") syscalls, $(awk '{ s += $2 } END { print s }' "$tmp/bl.txt") calls" \
			"as strace -f -c, and exit_group $bl_exits for $exits processes"
	fi
}

# a shell that runs three commands (dash forks each)
compare "sh -c 'ls; ls; ls'" -- sh -c 'ls /; ls /; ls /' :: sh -c 'ls /; ls /; ls /'
# -c with shell syntax goes through /bin/sh: what the shell runs is traced
compare "-c 'ls; ls; ls'" -c 'ls /; ls /; ls /' :: sh -c 'ls /; ls /; ls /'
compare "-c find -name '*.gz'" -c "find /usr/share/doc -name '*.gz'" :: sh -c "find /usr/share/doc -name '*.gz'"
# 100 processes forked at once, 50 getppid calls each
compare "workload children 100" -- "$W" children 100 :: "$W" children 100

# -p PID --children: a shell whose two children already wait at a gate
# (live descendants when the trace starts) and which then runs one that
# forks 4 more (new ones): 700 + 1 + 4 x 50 getppid calls
run_tree() { # $1: --children or nothing
	rm -f "$tmp/gate" "$tmp/tree.out"
	sh -c "\"$W\" getppid 700 \"$tmp/gate\" >/dev/null & \"$W\" getppid 1 \"$tmp/gate\" >/dev/null; \"$W\" children 4 >/dev/null 2>&1; wait" &
	local sh_pid=$!
	# both children are waiting once the shell has two
	for _ in $(seq 1 600); do [ "$(pgrep -c -P "$sh_pid")" = 2 ] && break; sleep 0.05; done
	"$BPFLUA" run syscount -s getppid -p "$sh_pid" $1 >"$tmp/tree.out" 2>"$tmp/tree.err" &
	local tracer=$!
	wait_for "$tmp/tree.err" Tracing || bad "-p $1: the tracer never started"
	touch "$tmp/gate"
	wait "$sh_pid"
	wait "$tracer" || { bad "-p $1: the tracer failed"; cat "$tmp/tree.err"; }
}
run_tree --children
check "-p --children: getppid 901 (700 + 1 + 4 x 50)" grep -Eq '^getppid +901$' "$tmp/tree.out"
cat "$tmp/tree.out"
run_tree ""
check "-p without --children: the shell alone, no getppid" bash -c "! grep -q getppid '$tmp/tree.out'"
expect 2 "--children follows the processes -p PID starts" "$BPFLUA" run syscount --children -d 1

# one-liners: pid = N with children = true counts the tree, without it the
# shell alone (which makes no getppid call)
rm -f "$tmp/gate" "$tmp/done"
sh -c "while [ ! -e '$tmp/gate' ]; do sleep 0.05; done; \"$W\" children 3 >/dev/null 2>&1; \"$W\" getppid 7 >/dev/null; touch '$tmp/done'" &
sh_pid=$!
"$BPFLUA" -e "
count{'t:syscalls:sys_enter_getppid', pid = $sh_pid, children = true, name = 'tree'}
count{'t:syscalls:sys_enter_getppid', pid = $sh_pid, name = 'alone'}
os.execute('touch $tmp/gate')
for _ = 1, 600 do
  local f = io.open('$tmp/done')
  if f then f:close() break end
  wait(0.05)
end" -d 0.1 >"$tmp/ol.out" 2>"$tmp/ol.err" || { bad "one-liner with pid"; cat "$tmp/ol.err"; }
wait "$sh_pid"
cat "$tmp/ol.out"
check "one-liner pid = N, children = true: 3 x 50 + 7" grep -qx '@tree: 157' "$tmp/ol.out"
check "one-liner pid = N alone: nothing" grep -qx '@alone: (nothing yet)' "$tmp/ol.out"

# profile follows a child: its samples, at bl_burn_cpu, at least 80% of
# what 99 Hz gives the CPU time the child says it had
"$BPFLUA" run profile --format json -o "$tmp/prof.json" -c "$W burn 1.5; true" >/dev/null 2>"$tmp/prof.err" ||
	bad "profile -c through a shell"
check "profile follows the shell's child" python3 - "$tmp/prof.json" "$(awk '/^cpu_ms / { print $2 }' "$tmp/prof.err")" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
burn = sum(r["count"] for r in rows if r["comm"] == "workload" and r["ustack"][:1] == ["bl_burn_cpu"])
want = int(int(sys.argv[2]) * 99 * 0.8 / 1000)
print("profile: %d samples in the child's bl_burn_cpu (want >= %d)" % (burn, want))
sys.exit(not (want >= 100 and burn >= want))
PY

# memleak follows a child: its 300 leaks of 1000 bytes, at its own symbols
"$BPFLUA" run memleak --children --format json -o "$tmp/leak.json" -c "$W leak 300 1000; true" >/dev/null 2>"$tmp/leak.err" ||
	bad "memleak -c through a shell"
check "memleak follows the shell's child" python3 - "$tmp/leak.json" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
leak = [r for r in rows if r["stack"][:2] == ["bl_leak_memory", "main"]]
print("memleak:", leak or rows[:3])
sys.exit(not (len(leak) == 1 and leak[0]["bytes"] == 300000 and leak[0]["allocations"] == 300))
PY
# without --children, memleak -c keeps its uprobes on the command's own
# process (every process's allocator would pay otherwise) and says so
"$BPFLUA" run memleak --format json -o "$tmp/leak2.json" -c "$W leak 30 1000; true" >/dev/null 2>"$tmp/leak2.err" ||
	bad "memleak -c through a shell, no --children"
check "memleak -c without --children: the shell only, said on stderr" grep -q "only the shell is traced" "$tmp/leak2.err"
check "memleak -c without --children: not the child's leaks" bash -c "! grep -q bl_leak_memory '$tmp/leak2.json'"

# tcplife follows a child: a shell runs the HTTP workload, whose sessions
# (both ends, 3 + 3 connections) carry the bytes its client counted
port=$((20000 + $$ % 20000 + 7))
"$BPFLUA" run tcplife -P $port --format json -o "$tmp/life.json" \
	-c "/usr/bin/python3 '$here/../tools/net_workload.py' http $port 3 >'$tmp/truth'; true" >/dev/null 2>"$tmp/life.err" ||
	bad "tcplife -c through a shell"
check "tcplife follows the shell's child" python3 - "$tmp/life.json" "$tmp/truth" <<'PY'
import json, sys
life = [json.loads(l) for l in open(sys.argv[1])]
truth = [l.split() for l in open(sys.argv[2])]
ok = len(truth) == 6 and len(life) == 12 and all(r["comm"] == "python3" for r in life)
for cport, sent, received, _, _ in truth:
    c = [(r["tx_bytes"], r["rx_bytes"]) for r in life if r["lport"] == int(cport)]
    s = [(r["rx_bytes"], r["tx_bytes"]) for r in life if r["rport"] == int(cport)]
    ok = ok and c == s == [(int(sent), int(received))]
print("tcplife: %d sessions of the shell's python3 for %d requests" % (len(life), len(truth)))
sys.exit(not ok)
PY

finish children
