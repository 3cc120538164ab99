#!/bin/bash
# One-liners over time: BEGIN and END blocks, interval() and interval = N
# (with clear = true), -i with -e, keys of several fields, and -l listing
# probes. The workload runs from inside the interval callbacks, so each
# interval's numbers are known exactly.
set -euo pipefail
tmp=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$tmp"' EXIT
NAME=bl_bk$$
W="$tmp/$NAME"
cp "$BPFLUA_WORKLOAD" "$W"
checks=0
ok() { checks=$((checks + 1)); }
fail() { echo "FAIL: $1"; cat "$tmp/out" "$tmp/err" 2>/dev/null; exit 1; }
U="u:$W:bl_traced_function"

# BEGIN first, END before the maps print; each interval prints and clears:
# 10 calls in one process, then 20 in another, each row keyed by comm and pid
"$BPFLUA" -e "n = 0
              BEGIN(function() print('BEGIN') end)
              END(function() print('END') end)
              count{'$U', by = {'comm', 'pid'}, interval = 0.3, clear = true}
              interval(0.3, function()
                n = n + 1
                if n <= 2 then os.execute('$W uprobe ' .. n * 10 .. ' >$tmp/pid' .. n) end
              end)" -d 1.5 >"$tmp/out" 2>"$tmp/err" || fail "-e BEGIN/END/interval"
[ "$(head -1 "$tmp/out")" = BEGIN ] || fail "BEGIN is the first line"; ok
printf '%s\n' "@[$NAME, $(cat "$tmp/pid1")]: 10" "@[$NAME, $(cat "$tmp/pid2")]: 20" >"$tmp/want"
diff <(grep '^@\[' "$tmp/out") "$tmp/want" || fail "interval with clear: 10, then 20, keyed by comm and pid"; ok
[ "$(grep -v '^$' "$tmp/out" | tail -2)" = "$(printf 'END\n@: (nothing yet)')" ] || fail "END, then the (cleared) map"; ok

# -i: every aggregation prints each interval, nothing cleared
"$BPFLUA" -e "n = 0
              count{'$U'}
              interval(0.3, function() n = n + 1; if n <= 2 then os.execute('$W uprobe ' .. n * 10 .. ' >/dev/null') end end)" \
	-d 1.5 -i 0.3 >"$tmp/out" 2>"$tmp/err" || fail "-e with -i"
[ "$(grep '^@: [0-9]' "$tmp/out" | uniq | tr '\n' ' ')" = "@: 10 @: 30 " ] || fail "-i: 10, then 30, then 30 at the end"; ok
[ "$(grep -c '^@: 30$' "$tmp/out")" -ge 2 ] || fail "-i: printed during the run and at the end"; ok

# the probe as a key (a glob's tracepoints told apart) and as a printf value
"$BPFLUA" -e "count{'t:syscalls:sys_enter_getp*id', by = {'probe', 'comm'}, filter = 'comm_is(\"$NAME\")'}
              printf{'$U', '%s %d\n', 'probe', 'arg0'}
              os.execute('$W getppid 3 >/dev/null; $W uprobe 2 >/dev/null')" -d 0.2 >"$tmp/out" 2>"$tmp/err" || fail "-e probe"
grep -qx "@\[tracepoint:syscalls:sys_enter_getppid, $NAME\]: 3" "$tmp/out" || fail "by probe: getppid 3"; ok
[ "$(grep -c "^uprobe:$W:bl_traced_function [01]\$" "$tmp/out")" = 2 ] || fail "printf probe"; ok

# -l lists probes as probes() does
"$BPFLUA" -l 't:syscalls:*_getppid' >"$tmp/out" 2>"$tmp/err" || fail "-l"
[ "$(cat "$tmp/out")" = "$(printf 'tracepoint:syscalls:sys_enter_getppid\ntracepoint:syscalls:sys_exit_getppid')" ] || fail "-l list"; ok
"$BPFLUA" -l "u:$W:bl_traced*" >"$tmp/out" 2>"$tmp/err" || fail "-l u:"
[ "$(cat "$tmp/out")" = "uprobe:$W:bl_traced_function" ] || fail "-l uprobes"; ok

# errors
bad() { # EXIT ARGS... (the message on stderr is checked by the caller)
	local want=$1
	shift
	set +e
	"$BPFLUA" "$@" >"$tmp/out" 2>"$tmp/err"
	local rc=$?
	set -e
	[ "$rc" = "$want" ] || fail "exit $rc, want $want: $*"
	ok
}
bad 1 -l 't:nosuch:*'
grep -qx "bpflua: no probe matches t:nosuch:\*" "$tmp/err" || fail "-l nothing"
bad 2 -l a b
grep -q "bpflua: -l takes one probe glob" "$tmp/err" || fail "-l two globs"
bad 2 -e 'count{"t:syscalls:sys_enter_getppid"}' -i 0
grep -q "bpflua: -i wants a number of seconds" "$tmp/err" || fail "-i 0"
bad 1 -e 'BEGIN(3)'
grep -q 'BEGIN() takes a function' "$tmp/err" || fail "BEGIN(3)"
bad 1 -e 'count{"t:syscalls:sys_enter_getppid", clear = true}'
grep -q 'count{}: clear = true empties the map after each interval; give interval = SECONDS' "$tmp/err" || fail "clear alone"
! grep -q Attached "$tmp/err" || fail "attached before the error"
bad 1 -e 'count{"t:syscalls:sys_enter_getppid", interval = -1}'
grep -q 'count{}: interval must be a number of seconds' "$tmp/err" || fail "interval = -1"
echo "blocks: $checks checks passed"
