#!/bin/bash
# --cgroup PATH and the cgroup/container keys, on cgroups this test makes
# under the cgroup2 mount: P, a container's scope C in it (named as docker's
# systemd driver names one), and C/init below that. Four processes call
# getppid, waiting at a gate until every tracer is attached: 777 times in
# P, 300 in C, 200 in C/init, 555 outside. A cgroup counts its own and
# those below it, exactly; a one-liner keyed by container merges C and
# C/init into one row, its count, sum and average combined.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
W="$tmp/blcg$$"
cp "$BPFLUA_WORKLOAD" "$W"
NAME=$(basename "$W")
root=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/self/mounts)
[ -n "$root" ] || { echo "no cgroup2 mount"; exit 1; }
hex=$(printf '%s' "$$-bpflua-cgroup-test" | sha256sum | cut -c1-64)
P="$root/bpflua-test-$$"
C="$P/docker-$hex.scope"
cleanup() {
	kill $(jobs -p) 2>/dev/null
	wait 2>/dev/null
	for d in "$C/init" "$C" "$P"; do [ -d "$d" ] && rmdir "$d"; done
	rm -rf "$tmp"
}
trap cleanup EXIT
mkdir "$P" "$C" "$C/init"

# start NAME CGROUP N: a shell that moves into CGROUP (none: stays here) and
# runs the workload, which waits for the gate; the shell stays its parent
start() {
	local into=""
	[ -n "$2" ] && into="echo \$\$ >'$2/cgroup.procs' && "
	sh -c "$into\"$W\" getppid $3 '$tmp/gate' >'$tmp/$1.pid'; true" &
	eval "sh_$1=\$!"
}
start p "$P" 777
start c "$C" 300
start init "$C/init" 200
start out "" 555
for f in p c init out; do wait_for "$tmp/$f.pid" . || bad "workload $f never started"; done

tracers=()
tracer() { # NAME COMMAND...: a tracer in the background, output in $tmp/NAME.out and .err
	local name=$1; shift
	"$@" >"$tmp/$name.out" 2>"$tmp/$name.err" &
	tracers+=("$!:$name")
}
tracer P "$BPFLUA" run syscount -s getppid --cgroup "$P" -d 60
tracer C "$BPFLUA" run syscount -s getppid --cgroup "$C" -d 60
tracer init "$BPFLUA" run syscount -s getppid --cgroup "$C/init/" -d 60
tracer keys "$BPFLUA" -e "
count{'t:syscalls:sys_enter_getppid', by = 'cgroup', cgroup = '$P', name = 'cgroup'}
count{'t:syscalls:sys_enter_getppid', by = 'container', cgroup = '$P', name = 'container'}
sum{'t:syscalls:sys_exit_getppid', value = 'args.ret', by = 'container', cgroup = '$P', name = 'sum'}
avg{'t:syscalls:sys_exit_getppid', value = 'args.ret == $sh_c ? 10 : 0', by = 'container', cgroup = '$P', name = 'avg'}
count{'t:syscalls:sys_enter_getppid', filter = 'comm_is(\"$NAME\")', name = 'all'}
count{'t:syscalls:sys_enter_getppid', filter = 'comm_is(\"$NAME\")', by = 'pid', name = 'bypid'}" -d 60
# (bypid: which process a short @all came from, if one does)
for t in "${tracers[@]}"; do
	name=${t#*:}
	for _ in $(seq 1 1200); do
		grep -Eq 'Tracing|Attached' "$tmp/$name.err" && break
		kill -0 "${t%%:*}" 2>/dev/null || break
		sleep 0.05
	done
	grep -Eq 'Tracing|Attached' "$tmp/$name.err" || { bad "tracer $name never started"; cat "$tmp/$name.err"; }
done
touch "$tmp/gate"
wait "$sh_p" "$sh_c" "$sh_init" "$sh_out"
sleep 0.3
for t in "${tracers[@]}"; do
	kill -INT "${t%%:*}"
	wait "${t%%:*}" || { bad "tracer ${t#*:} failed"; cat "$tmp/${t#*:}.err"; }
done

check "--cgroup P: 777 + 300 + 200" grep -Eq '^getppid +1277$' "$tmp/P.out"
check "--cgroup C: 300 + 200" grep -Eq '^getppid +500$' "$tmp/C.out"
check "--cgroup C/init/: 200" grep -Eq '^getppid +200$' "$tmp/init.out"
cat "$tmp/keys.out"
rel=${P#"$root"}
check "count by cgroup: P 777" grep -qx "@cgroup\[$rel\]: 777" "$tmp/keys.out"
check "count by cgroup: C 300" grep -qx "@cgroup\[$rel/docker-$hex.scope\]: 300" "$tmp/keys.out"
check "count by cgroup: C/init 200" grep -qx "@cgroup\[$rel/docker-$hex.scope/init\]: 200" "$tmp/keys.out"
check "count by cgroup: three rows" test "$(grep -c '^@cgroup\[' "$tmp/keys.out")" = 3
check "count by container: C and C/init are one container, 500" grep -qx "@container\[${hex:0:12}\]: 500" "$tmp/keys.out"
check "count by container: P by its path, 777" grep -qx "@container\[$rel\]: 777" "$tmp/keys.out"
check "the referee: all four, 1832" grep -qx "@all: 1832" "$tmp/keys.out"
# getppid returns the shells' pids: the merged row's sum and average are
# over both processes' calls
sum=$((300 * sh_c + 200 * sh_init))
check "sum by container: 300 x ppid(C) + 200 x ppid(C/init) = $sum" grep -qx "@sum\[${hex:0:12}\]: $sum" "$tmp/keys.out"
# C's calls are worth 10, C/init's 0: (300 x 10 + 200 x 0) / 500 = 6
# (an average of the averages would be 5)
check "avg by container: 6" grep -qx "@avg\[${hex:0:12}\]: 6" "$tmp/keys.out"
check "avg of P: 0" grep -qx "@avg\[$rel\]: 0" "$tmp/keys.out"

# --container: tcplife's records carry the container of the process, the
# HTTP workload run inside C (text: 12 hex digits; JSON: all 64), and
# --cgroup C leaves out the same workload run outside
port=$((20000 + $$ % 20000 + 11))
"$BPFLUA" run tcplife --container --cgroup "$C" -P $port --format json -o "$tmp/life.json" 2>"$tmp/life.err" &
life=$!
"$BPFLUA" run tcplife --container -P $port >"$tmp/life.txt" 2>"$tmp/life2.err" &
life2=$!
wait_for "$tmp/life.err" Tracing && wait_for "$tmp/life2.err" Tracing || bad "tcplife never started"
sh -c "echo \$\$ >'$C/cgroup.procs' && exec /usr/bin/python3 '$here/../tools/net_workload.py' http $port 2" >"$tmp/truth.c" ||
	bad "the HTTP workload in C"
/usr/bin/python3 "$here/../tools/net_workload.py" http $port 1 >"$tmp/truth.out" || bad "the HTTP workload outside"
sleep 0.3
kill -INT $life $life2
wait $life || bad "tcplife --cgroup failed"
wait $life2 || bad "tcplife --container failed"
check "tcplife --container --cgroup C: 8 sessions (4 requests, both ends), each in container $hex" python3 - "$tmp/life.json" "$hex" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
print("tcplife --cgroup C:", len(rows), "sessions, containers", sorted(set(r["container"] for r in rows)))
sys.exit(not (len(rows) == 8 and all(r["container"] == sys.argv[2] for r in rows)))
PY
check "tcplife --container text: 8 rows of C's short id" test "$(grep -c " ${hex:0:12} " "$tmp/life.txt")" = 8
check "tcplife --container text: 4 rows outside any container" \
	test "$(awk -v p=$port '$5 == p || $7 == p' "$tmp/life.txt" | grep -vc " ${hex:0:12} ")" = 4
# udp reports at the end, when the sender has exited: its container is
# the one config.h saw it exit in
"$BPFLUA" run udp --container --format json -o "$tmp/udp.json" 2>"$tmp/udp.err" &
udp=$!
wait_for "$tmp/udp.err" Tracing || bad "udp never started"
sh -c "echo \$\$ >'$C/cgroup.procs' && exec /usr/bin/python3 '$here/../tools/net_workload.py' udp $((port + 1)) 5 100" >/dev/null ||
	bad "the UDP workload in C"
sleep 0.3
kill -INT $udp
wait $udp || bad "udp --container failed"
check "udp --container: the exited sender's 5 datagrams each way, in container $hex" python3 - "$tmp/udp.json" "$hex" $((port + 1)) <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
mine = [r for r in rows if r["rport"] == int(sys.argv[3]) or r["raddr"] == "(connected)" and r["comm"] == "python3"]
print("udp:", [(r["direction"], r["datagrams"], r["container"]) for r in mine])
sys.exit(not (mine and all(r["container"] == sys.argv[2] for r in mine)
              and sum(r["datagrams"] for r in mine if r["direction"] == "send") == 5))
PY
expect 2 "unknown option --container" "$BPFLUA" run syscount --container -d 1

# bad paths: a clear error, nothing run
expect 2 "not a cgroup v2 directory" "$BPFLUA" run syscount --cgroup /proc -d 1
expect 2 "No such file" "$BPFLUA" run syscount --cgroup "$P/nosuch" -d 1
expect 2 "absolute path" "$BPFLUA" run syscount --cgroup "$P/../x" -d 1
expect nz "cgroup = " "$BPFLUA" -e "count{'t:syscalls:sys_enter_getppid', cgroup = '/proc'}" -d 0.1
finish cgroup
