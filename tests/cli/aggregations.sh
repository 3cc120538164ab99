#!/bin/bash
# min, max, stats and lhist one-liners: exact numbers from the workload's
# bl_traced_function(i), i = 0..N-1, in one process and in three at once on
# every CPU (min and max are per CPU and merged; stats counts atomically).
set -euo pipefail
tmp=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$tmp"' EXIT
NAME=bl_ag$$
W="$tmp/$NAME"
cp "$BPFLUA_WORKLOAD" "$W"
checks=0
ok() { checks=$((checks + 1)); }
fail() { echo "FAIL: $1"; cat "$tmp/out" "$tmp/err" 2>/dev/null; exit 1; }
U="u:$W:bl_traced_function"

"$BPFLUA" -e "min{'$U', value = 'arg0 + 7', name = 'min'}
              max{'$U', value = 'arg0 + 7', name = 'max'}
              min{'$U', value = '-(s64)arg0', name = 'neg'}
              stats{'$U', value = 'arg0', by = 'comm', name = 'stats'}
              lhist{'$U', value = 'arg0', min = 100, max = 500, step = 100, name = 'l'}
              lhist{'$U', value = 'arg0 % 4', min = 1, max = 3, step = 1, name = 'l1'}
              os.execute('$W uprobe 1000 >/dev/null')" -d 0.1 >"$tmp/out" 2>"$tmp/err" || fail "-e aggregations"
bar() { printf '%*s' "$1" '' | tr ' ' @; }
{
	echo "@min: 7"
	echo "@max: 1006"
	echo "@neg: -999"
	echo "@stats[$NAME]: count 1000, average 499, total 499500"
	echo "@l:"
	printf '%-16s%8d |%-52s|\n' '(..., 100)' 100 "$(bar 10)"
	for lo in 100 200 300 400; do printf '%-16s%8d |%-52s|\n' "[$lo, $((lo + 100)))" 100 "$(bar 10)"; done
	printf '%-16s%8d |%-52s|\n' '[500, ...)' 500 "$(bar 52)"
	echo
	echo "@l1:"
	printf '%-16s%8d |%-52s|\n' '(..., 1)' 250 "$(bar 52)" '[1]' 250 "$(bar 52)" '[2]' 250 "$(bar 52)" '[3, ...)' 250 "$(bar 52)"
	echo
} >"$tmp/want"
diff <(grep -v '^$' "$tmp/out") <(grep -v '^$' "$tmp/want") || fail "min, max, stats, lhist: exact"; ok

# three processes, 100000 calls each, on both CPUs at once
"$BPFLUA" -e "min{'$U', value = 'arg0', by = 'comm', name = 'min'}
              max{'$U', value = 'arg0', by = 'comm', name = 'max'}
              stats{'$U', value = 'arg0', by = 'comm', name = 'stats'}
              os.execute('for i in 1 2 3; do $W uprobe 100000 >/dev/null & done; wait')" -d 0.1 \
	>"$tmp/out" 2>"$tmp/err" || fail "-e three at once"
printf '%s\n' "@min[$NAME]: 0" "@max[$NAME]: 99999" "@stats[$NAME]: count 300000, average 49999, total 14999850000" >"$tmp/want"
diff <(grep -v '^$' "$tmp/out") "$tmp/want" || fail "three processes at once: exact"; ok

# errors before anything attaches
bad() { # ONELINER MESSAGE
	if "$BPFLUA" -e "$1" -d 0.1 >"$tmp/out" 2>"$tmp/err"; then fail "accepted: $1"; fi
	grep -qF -- "$2" "$tmp/err" || fail "for $1, want: $2"
	! grep -q Attached "$tmp/err" || fail "attached before the error: $1"
	ok
}
bad "lhist{'$U', value = 'arg0', min = 0, max = 100}" "lhist{}: step must be an integer"
bad "lhist{'$U', value = 'arg0', min = 0, max = 100, step = 0}" "lhist{}: step must be 1 or more"
bad "lhist{'$U', value = 'arg0', min = 10, max = 10, step = 1}" "lhist{}: max must be greater than min"
bad "lhist{'$U', value = 'arg0', min = 0, max = 100, step = 7}" "lhist{}: max - min must be a multiple of step"
bad "lhist{'$U', value = 'arg0', min = 0, max = 100000, step = 1}" "lhist{}: at most 1000 steps from min to max, not 100000"
bad "min{'$U'}" 'min{} needs value = "C expression"'
bad "stats{'$U'}" 'stats{} needs value = "C expression"'
echo "aggregations: $checks checks passed"
