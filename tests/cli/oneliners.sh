#!/bin/bash
# One-liners from the shell: exact counts, latency buckets, traced fields,
# filters, uprobes, scripts on stdin, probe listings and errors.
set -euo pipefail
tmp=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$tmp"' EXIT
# a name of its own: other tests (and this one without BTF) run the
# workload at the same time
NAME=bl_ol$$
W="$tmp/$NAME"
cp "$BPFLUA_WORKLOAD" "$W"
checks=0
ok() { checks=$((checks + 1)); }
fail() { echo "FAIL: $1"; cat "$tmp/out" "$tmp/err" 2>/dev/null; exit 1; }

# the issue's acceptance line, with the workload started once probes are on
"$BPFLUA" -e 'count{"t:syscalls:sys_enter_getppid", by="comm"}' -d 3 >"$tmp/out" 2>"$tmp/err" &
bp=$!
for _ in $(seq 1 600); do grep -q Attached "$tmp/err" && break; sleep 0.05; done
"$W" getppid 5000 >/dev/null
wait "$bp" || fail "-e count"
grep -qx "@\[$NAME\]: 5000" "$tmp/out" || fail "count by comm: want @[$NAME]: 5000"; ok

# one key, three processes on every CPU at once: not one count lost (libbcc's
# increment() is a plain read-modify-write on a shared hash: it lost 62 of
# 900000 here)
"$BPFLUA" -e "count{'t:syscalls:sys_enter_getppid', by = 'comm', filter = 'comm_is(\"$NAME\")'}
              os.execute('for i in 1 2 3; do $W getppid 300000 >/dev/null & done; wait')" -d 0.1 \
	>"$tmp/out" 2>"$tmp/err" || fail "-e count, three at once"
grep -qx "@\[$NAME\]: 900000" "$tmp/out" || fail "three processes at once, one key: want @[$NAME]: 900000"; ok

# hist: 1 ms sleeps land in the 1 ms buckets (1000 us is just under 1024);
# none can be shorter, a busy host may make a few longer
"$BPFLUA" -e "hist{'t:syscalls:sys_enter_clock_nanosleep', to = 't:syscalls:sys_exit_clock_nanosleep',
                   filter = 'comm_is(\"$NAME\")'}
              os.execute('$W nanosleep 100 >/dev/null')" -d 0.1 >"$tmp/out" 2>"$tmp/err" || fail "-e hist"
awk '/->/ { n = $5; all += n; if ($1 == 512 || $1 == 1024) near += n; else if ($3 < 512) low += n }
     END { exit !(all == 100 && near >= fast && fast >= 50 && low == 0) }' \
	fast="$(sed -n 's/^sleeps under 2048 us: //p' "$tmp/err")" "$tmp/out" ||
	fail "hist: 100 sleeps, in 512-2047 us at least as many as the workload timed under 2048 us"; ok

# trace prints each event with its fields; a filter on a field excludes
"$BPFLUA" -e "trace{'t:syscalls:sys_enter_openat', fields = {'args.filename', 'args.flags'},
                    filter = 'comm_is(\"$NAME\") && args.flags == 0'}
              os.execute('$W openfail 7 >/dev/null')" -d 0.3 >"$tmp/out" 2>"$tmp/err" || fail "-e trace"
[ "$(grep -c "^$NAME .*args_filename=/nonexistent/bpflua-workload args_flags=0\$" "$tmp/out")" = 7 ] \
	|| fail "trace: 7 failing opens with their file name"; ok
# the loader's own opens (O_CLOEXEC) were filtered out
! grep -q 'ld.so.cache' "$tmp/out" || fail "trace filter let O_CLOEXEC opens through"; ok

# uprobes: exact, and the library-name form resolves
"$BPFLUA" -e "count{'u:$W:bl_traced_function'}
              os.execute('$W uprobe 777 >/dev/null')" -d 0.1 >"$tmp/out" 2>"$tmp/err" || fail "-e uprobe"
grep -qx '@: 777' "$tmp/out" || fail "uprobe count 777"; ok

# a script on stdin
echo "sum{'t:syscalls:sys_enter_getppid', value = '2', filter = 'comm_is(\"$NAME\")'}
      os.execute('$W getppid 300 >/dev/null')" | "$BPFLUA" -d 0.1 >"$tmp/out" 2>"$tmp/err" || fail "stdin script"
grep -qx '@: 600' "$tmp/out" || fail "sum from stdin: 2 x 300"; ok

# probe listings
"$BPFLUA" -e 'for _, p in ipairs(probes("t:syscalls:*_getppid")) do print(p) end' >"$tmp/out" 2>"$tmp/err" || fail "probes()"
[ "$(cat "$tmp/out")" = "$(printf 'tracepoint:syscalls:sys_enter_getppid\ntracepoint:syscalls:sys_exit_getppid')" ] || fail "probes() list"; ok
"$BPFLUA" -e "for _, p in ipairs(probes('u:$W:bl_*')) do print(p) end" >"$tmp/out" 2>"$tmp/err" || fail "probes(u:)"
grep -q ':bl_burn_cpu$' "$tmp/out" && grep -q ':bl_traced_function$' "$tmp/out" || fail "probes(u:) symbols"; ok

# errors: clear, non-zero, nothing attached. A kprobe: refused for want of
# kprobes on a kernel without them, else for want of the function
# (tests/cli/kprobes.sh counts with them where the kernel has them)
kbad='count{"k:tcp_v4_connect"}' kwhy="kprobes are not supported"
if "$BPFLUA" doctor 2>/dev/null | grep -c '^\[ ok \] kprobes' >/dev/null; then # -c: no SIGPIPE under pipefail
	kbad='count{"k:bl_no_such_kernel_function"}' kwhy=bl_no_such_kernel_function
fi
for bad in 'count{"x:nothing"}' 'count{"t:nosuch:tracepoint"}' 'count{"t:syscalls:sys_enter_getppid", by = "args.nosuch"}' \
           'hist{"t:syscalls:sys_enter_getppid"}' "$kbad"; do
	if "$BPFLUA" -e "$bad" -d 0.1 >"$tmp/out" 2>"$tmp/err"; then fail "accepted: $bad"; fi
	ok
done
grep -q "$kwhy" "$tmp/err" || fail "the kprobe error says why: $kwhy"
echo "oneliners: $checks checks passed"
