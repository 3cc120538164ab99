#!/bin/bash
# Events a reader could not take are counted and said, never silently
# dropped: a trace{} one-liner whose reader is kept busy (the workload runs
# inside the script, so nothing polls) delivers what fitted and reports the
# rest; delivered + reported lost = what the workload caused, exactly.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

N=100000
for path in ring perf; do
	BPFLUA_EVENTS=$([ $path = perf ] && echo perf || echo ring) "$BPFLUA" -e "
		trace{ 't:syscalls:sys_enter_getppid', filter = 'comm_is(\"bl_flood\")' }
		os.execute('$BPFLUA_WORKLOAD named 626c5f666c6f6f64 $N 0 >/dev/null')" -d 0.5 >"$tmp/$path.out" 2>"$tmp/$path.err"
	rc=$?
	n=$((n + 1))
	[ $rc = 0 ] || { bad "$path: exit $rc"; cat "$tmp/$path.err"; }
	delivered=$(grep -c '^bl_flood ' "$tmp/$path.out")
	lost=$(sed -n 's/.*: \([0-9]*\) events lost (the buffer was full), \([0-9]*\) delivered$/\1/p' "$tmp/$path.err" | tail -1)
	said=$(sed -n 's/.*: \([0-9]*\) events lost (the buffer was full), \([0-9]*\) delivered$/\2/p' "$tmp/$path.err" | tail -1)
	n=$((n + 1))
	if [ -z "$lost" ] || [ "$lost" = 0 ]; then
		bad "$path: no loss reported (delivered $delivered of $N):"; cat "$tmp/$path.err"
	elif [ $((delivered + lost)) != $N ] || [ "$said" != "$delivered" ]; then
		bad "$path: delivered $delivered + lost $lost != $N (said delivered: $said)"
	fi
	echo "$path: $delivered delivered, $lost lost"
done

finish "cli losses"
