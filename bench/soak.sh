#!/bin/bash
# Soak: `profile -F 999 -i 10` and `syscount -i 1` side by side for
# SOAK_SECONDS (default 600) while short-lived processes come and go; the
# tracers' RSS every 10 s and the "[lost stack]" share of every profile
# interval. Not in CI (ten minutes, and the numbers depend on the host).
# Run as root: bench/soak.sh   (SOAK_SECONDS=120 bench/soak.sh for a short one)
#
# Fails when either tracer's median RSS in the last minute is more than 10%
# above that of the minute after the warm-up (SOAK_WARMUP, default 60 s),
# when the lost share of the last third of the intervals is 5 points above
# that of the first third, or when a tracer stopped reporting before the end
# (as when its stdout was closed under it).
#
# 2026-11-27, 2 CPUs, kernel 6.18: profile RSS 27.7 MB in the minute after
# the warm-up, 28.3 MB in the last (medians; 37.9 MB at most), syscount
# 5.9-6.0 MB; [lost stack] 5.5% of samples in the first third, 5.1% in the
# last; 597 syscount reports; CPU 59.8 s (profile) and 2.8 s (syscount).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
[ "$(id -u)" = 0 ] || { echo "bench/soak.sh: run as root" >&2; exit 1; }
BPFLUA=${BPFLUA:-$root/build/bpflua}
[ -x "$BPFLUA" ] || { echo "bench/soak.sh: no $BPFLUA (cmake -S . -B build -DBUILD_TESTING=OFF && cmake --build build)" >&2; exit 1; }
secs=${SOAK_SECONDS:-600}
warmup=${SOAK_WARMUP:-60}
[ "$secs" -ge $((warmup + 60)) ] || { echo "bench/soak.sh: SOAK_SECONDS must be at least SOAK_WARMUP + 60" >&2; exit 1; }
. "$root/bench/lib.sh"

# Churn: four short processes at a time, each with its own address layout, so
# every one brings new stacks; bounded by the soak's own duration.
churn() {
	local end=$((SECONDS + secs))
	while [ $SECONDS -lt $end ]; do
		for _ in 1 2 3 4; do
			(ls -R /usr/lib/python3* >/dev/null 2>&1; awk 'BEGIN { for (i = 0; i < 20000; i++) s += i }'
			 sort /etc/services >/dev/null; sha1sum "$BPFLUA" >/dev/null) &
		done
		wait
	done
}

"$BPFLUA" run profile -F 999 -i 10 -T 0 -d "$secs" >"$tmp/profile" 2>"$tmp/profile.err" &
prof=$!
"$BPFLUA" run syscount -i 1 -d "$secs" >"$tmp/syscount" 2>"$tmp/syscount.err" &
sysc=$!
pids="$prof $sysc"
churn &
pids="$pids $!"

rss() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }
cpu() { awk '{ sub(/.*\) /, ""); printf "%.1f", ($12 + $13) / 100 }' "/proc/$1/stat" 2>/dev/null || echo 0; }
echo "soak: ${secs} s, warm-up ${warmup} s; profile pid $prof, syscount pid $sysc" >&2
: >"$tmp/rss"
t=0
fd1_ok=1
while [ $((t + 10)) -le $((secs - 5)) ]; do
	sleep 10
	t=$((t + 10))
	echo "$t $(rss $prof) $(rss $sysc)" >>"$tmp/rss"
	for p in $prof $sysc; do [ -e "/proc/$p/fd/1" ] || fd1_ok=0; done
	printf '\r%4d s  RSS profile %6d kB  syscount %6d kB' $t "$(rss $prof)" "$(rss $sysc)" >&2
done
cpu_prof=$(cpu $prof)
cpu_sysc=$(cpu $sysc)
echo >&2
wait $prof || { cat "$tmp/profile.err"; echo "FAIL: profile exited with an error"; exit 1; }
wait $sysc || { cat "$tmp/syscount.err"; echo "FAIL: syscount exited with an error"; exit 1; }

fail=0
# RSS moves with the processes alive at the moment (their symbol tables), so
# minutes are compared, by their median: the minute after the warm-up
# against the last one
rss_check() {
	awk -v w="$warmup" -v name="$1" -v col="$2" '
	function median(a, n,    i, j, x) {
		for (i = 2; i <= n; i++) { x = a[i]; for (j = i - 1; j >= 1 && a[j] > x; j--) a[j + 1] = a[j]; a[j + 1] = x }
		return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
	}
	{ t[NR] = $1; v[NR] = $col; if (NR == 1) first = $col; if ($col > max) max = $col; last = $col }
	END {
		for (i = 1; i <= NR; i++) {
			if (t[i] >= w && t[i] < w + 60) wa[++na] = v[i]
			if (i > NR - 6) wb[++nb] = v[i]
		}
		a = na ? median(wa, na) : 0; b = nb ? median(wb, nb) : 0
		growth = a ? 100 * (b - a) / a : 0
		printf "%-9s RSS: first %.1f MB, minute after warm-up %.1f MB, last minute %.1f MB (%+.1f%%; medians), max %.1f MB\n",
			name, first / 1024, a / 1024, b / 1024, growth, max / 1024
		exit !(a && growth <= 10)
	}' "$tmp/rss"
}
awk '$1 % 60 == 0 { p = p sprintf(" %.1f", $2 / 1024); s = s sprintf(" %.1f", $3 / 1024) }
     END { print "profile   RSS each minute (MB):" p; print "syscount  RSS each minute (MB):" s }' "$tmp/rss"
rss_check profile 2 || fail=1
rss_check syscount 3 || fail=1
# one share per profile interval: the TOTAL of the "[lost stack]" row over
# the interval's samples
awk -v want=$((secs / 10 * 9 / 10)) '
/\[lost stack\]$/ { lost = $3 }
/^[0-9]+ samples$/ { if ($1 > 0) share[++n] = 100 * lost / $1; lost = 0 }
END {
	third = int(n / 3)
	for (i = 1; i <= third; i++) a += share[i]
	for (i = n - third + 1; i <= n; i++) b += share[i]
	a = third ? a / third : 0; b = third ? b / third : 0
	line = ""
	for (i = 1; i <= n; i++) line = line sprintf(" %.1f", share[i])
	printf "profile   [lost stack] share per 10 s interval (%%):%s\n", line
	printf "profile   %d intervals; lost share: first third %.1f%%, last third %.1f%%\n", n, a, b
	exit !(n >= want && b <= a + 5)
}' "$tmp/profile" || fail=1
reports=$(grep -c '^\[[0-9:]*\]$' "$tmp/syscount" || true)
echo "syscount  $reports interval reports in $secs s"
[ "$reports" -ge $((secs * 9 / 10)) ] || fail=1
echo "CPU time: profile ${cpu_prof} s, syscount ${cpu_sysc} s"
[ $fd1_ok = 1 ] || { echo "FAIL: a tracer lost its stdout"; fail=1; }
[ $fail = 0 ] && echo "soak: PASS" || echo "soak: FAIL"
exit $fail
