#!/bin/bash
# printf{} one-liners: bpftrace's formats applied to each event, exact lines
# from the workload's own calls; str() of user memory, of a tracepoint's
# pointer and of a uretprobe's return value (bash's readline); format errors
# before anything attaches.
set -euo pipefail
tmp=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$tmp"' EXIT
NAME=bl_pf$$
W="$tmp/$NAME"
cp "$BPFLUA_WORKLOAD" "$W"
checks=0
ok() { checks=$((checks + 1)); }
fail() { echo "FAIL: $1"; cat "$tmp/out" "$tmp/err" 2>/dev/null; exit 1; }

# a tracepoint's string pointer read from user memory, its flags as a number:
# the workload's 7 failing opens, and the loader's own (O_CLOEXEC) filtered out
"$BPFLUA" -e "printf{'t:syscalls:sys_enter_openat', '%s opened %s flags=%d\n', 'comm', 'str(args.filename)', 'args.flags',
                     filter = 'comm_is(\"$NAME\") && args.flags == 0'}
              os.execute('$W openfail 7 >/dev/null')" -d 0.3 >"$tmp/out" 2>"$tmp/err" || fail "-e printf openat"
for _ in 1 2 3 4 5 6 7; do echo "$NAME opened /nonexistent/bpflua-workload flags=0"; done >"$tmp/want"
diff <(grep -v '^$' "$tmp/out") "$tmp/want" || fail "printf openat: 7 exact lines"; ok

# conversions, widths and flags as C prints them; bl_traced_function(i) for
# i = 0..4 gives the values, the shell's printf the expected text
"$BPFLUA" -e "printf{'u:$W:bl_traced_function', 'i=%d hex=%x HEX=%#X pad=%05d left=%-3d| %c %lu %llu %ld %u [%8s] [%-8.3s] %%\n',
                     'arg0', 'arg0 + 255', 'arg0 * 4096', 'arg0', 'arg0', 'arg0 + 65', 'arg0', 'arg0 * 1000', '-(s64)arg0',
                     '-(s64)arg0', 'comm', 'comm'}
              os.execute('$W uprobe 5 >/dev/null')" -d 0.3 >"$tmp/out" 2>"$tmp/err" || fail "-e printf uprobe"
for i in 0 1 2 3 4; do
	# bash's arithmetic is 64-bit signed: the unsigned -i spelled out
	case $i in 0) u=0 ;; 1) u=18446744073709551615 ;; 2) u=18446744073709551614 ;;
		3) u=18446744073709551613 ;; 4) u=18446744073709551612 ;; esac
	printf 'i=%d hex=%x HEX=%#X pad=%05d left=%-3d| %b %lu %llu %ld %s [%8s] [%-8.3s] %%\n' \
		"$i" $((i + 255)) $((i * 4096)) "$i" "$i" "\\x$(printf %x $((i + 65)))" "$i" $((i * 1000)) $((-i)) "$u" \
		"${NAME:0:15}" "${NAME:0:15}"
done >"$tmp/want"
diff <(grep -v '^$' "$tmp/out") "$tmp/want" || fail "printf conversions: 5 exact lines"; ok

# a uretprobe's return value is a string pointer: the lines an interactive
# bash read, each once, in order; str(EXPR, N) bounds the length. A copy of
# bash of our own: no other shell on the host meets the probe.
cp /bin/bash "$tmp/${NAME}sh"
printf 'echo one\necho two words here\nexit\n' >"$tmp/lines"
"$BPFLUA" -e "printf{'ur:$tmp/${NAME}sh:readline', '%s|%s|\n', 'str(retval)', 'str(retval, 5)'}
              os.execute('script -qec \"$tmp/${NAME}sh --norc --noprofile -i\" /dev/null <$tmp/lines >/dev/null')" -d 0.5 \
	>"$tmp/out" 2>"$tmp/err" || fail "-e printf readline"
printf 'echo one|echo|\necho two words here|echo|\nexit|exit|\n' >"$tmp/want"
diff <(grep -v '^$' "$tmp/out") "$tmp/want" || fail "printf str(retval) of readline: 3 exact lines"; ok

# errors: said before anything compiles or attaches, non-zero
bad() { # ONELINER MESSAGE
	if "$BPFLUA" -e "$1" -d 0.1 >"$tmp/out" 2>"$tmp/err"; then fail "accepted: $1"; fi
	grep -qF -- "$2" "$tmp/err" || fail "for $1, want: $2"
	! grep -q Attached "$tmp/err" || fail "attached before the error: $1"
	ok
}
bad 'printf{"t:syscalls:sys_enter_openat", "%s opened %s\n", "comm"}' \
	"printf{}: the format has 2 conversions but 1 value follows it"
bad 'printf{"t:syscalls:sys_enter_openat", "%d\n", "pid", "tid"}' \
	"printf{}: the format has 1 conversion but 2 values follow it"
bad 'printf{"t:syscalls:sys_enter_openat", "%k\n", "pid"}' \
	"printf{}: '%k' at 1 of the format is not a conversion bpftrace knows"
bad 'printf{"t:syscalls:sys_enter_openat", "pid %", "pid"}' "printf{}: the format ends inside a conversion ('%')"
bad 'printf{"t:syscalls:sys_enter_openat"}' "printf{}: the second item must be the format"
bad 'printf{"t:syscalls:sys_enter_openat", "%s\n", "str(args.filename, 4096)"}' \
	"printf{}: str(args.filename, 4096): a string's length is 1 to 256"
bad 'printf{"t:syscalls:sys_enter_openat", "%s\n", "nosuch"}' "unknown key or field 'nosuch'"
echo "printf: $checks checks passed"
