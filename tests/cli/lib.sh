# Shared by the CLI tests: a scratch directory, check counting, and
# `expect RC PATTERN COMMAND...` (RC: an exit status, "nz" for any failure).
# Source it; end the test with `finish NAME`.
set -uo pipefail
tmp=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$tmp"' EXIT
fail=0
n=0

bad() { # a failed check: say what, carry on
	echo "FAIL: $*"
	fail=1
}

check() { # $1 description, then a command that must succeed
	local what=$1; shift
	n=$((n + 1))
	"$@" || bad "$what"
}

expect() {
	local want=$1 pattern=$2; shift 2
	n=$((n + 1))
	"$@" >"$tmp/expect.out" 2>&1
	local rc=$?
	if { [ "$want" = nz ] && [ $rc = 0 ]; } || { [ "$want" != nz ] && [ $rc != "$want" ]; } ||
		! grep -Eq -- "$pattern" "$tmp/expect.out"; then
		bad "($rc, wanted $want): $* -> wanted /$pattern/:"
		cat "$tmp/expect.out"
	fi
}

# waits (up to 30 s) until FILE contains PATTERN
wait_for() { # FILE PATTERN [SECONDS, 30]
	for _ in $(seq 1 $((${3:-30} * 20))); do grep -q -- "$2" "$1" 2>/dev/null && return 0; sleep 0.05; done
	return 1
}

finish() {
	[ $fail = 0 ] && echo "$1: $n checks passed"
	exit $fail
}
