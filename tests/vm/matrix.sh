#!/bin/bash
# The kernel matrix: the test suite in one guest per row (one at a time), then
# on this host, and one table of kernel x BTF x header tree x test.
#   tests/vm/matrix.sh            (BPFLUA_VM_CACHE, BPFLUA_VM_BUILD from ./dev.sh)
# BPFLUA_VM_TESTS: a ctest -R regex for every row; BPFLUA_VM_EXCLUDE: a ctest
# -E regex for the guest rows, added to their own; BPFLUA_VM_ROWS: which
# rows (space-separated numbers, default all); BPFLUA_VM_JOBS: ctest -j in
# the guests (default 1).
# Logs and results stay in $BPFLUA_VM_CACHE/results/.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cache=${BPFLUA_VM_CACHE:?}
build=${BPFLUA_VM_BUILD:?}
# the host row's build (./dev.sh passes its ASan test build); the guests share
# the plain one
host_build=${BPFLUA_HOST_BUILD:-$build}
# a guest takes 15 to 30 minutes for its tests, one at a time, on a busy
# 2-core host; a hung guest kernel panics after a minute (run.sh), this is
# for anything else
limit=${BPFLUA_VM_TIMEOUT:-3000}

# kernel  btf  headers  label
rows=(
	"5.10 hidden own|Debian 11 5.10 / hidden / own 5.10 (exact)"
	"5.10 hidden nearest|Debian 11 5.10 / hidden / 6.1 only (mismatched)"
	"6.1 visible own|Debian 12 6.1 / visible / own 6.1 (exact)"
	"host|this host $(uname -r) / visible+hidden / 6.1 (mismatched)"
)
pick=${BPFLUA_VM_ROWS:-$(seq -s ' ' 1 ${#rows[@]})}

ctest_args=(--output-on-failure)
[ -n "${BPFLUA_VM_TESTS:-}" ] && ctest_args+=(-R "$BPFLUA_VM_TESTS")
# One test at a time in a guest: a 6.1 guest running the suite two at a time
# hung for good (both vCPUs in a soft lockup, in bpflua, while
# integration_uprobe and integration_events_nobtf ran side by side), and
# under emulation two tests side by side also stretch each other's timings.
guest_jobs=${BPFLUA_VM_JOBS:-1}
# What the guests leave to the host row, which runs the whole suite: the
# tests that never touch the kernel (the unit tests and the HTTP decoders'
# fuzzer, 2 minutes of pure Lua under emulation); and in a row whose BTF is
# hidden already, the *_nobtf repeats, which would run the same test twice.
kernel_free='^unit_|^fuzz_http$'
guest_exclude() { # btf mode -> the -E regex of that row
	local e=$kernel_free
	[ "$1" = hidden ] && e="$e|_nobtf\$"
	[ -n "${BPFLUA_VM_EXCLUDE:-}" ] && e="$e|$BPFLUA_VM_EXCLUDE"
	echo "$e"
}

out=$cache/results
rm -rf "$out"
mkdir -p "$out"
dirs=()
start=$SECONDS
for i in $pick; do
	row=${rows[i - 1]:-}
	[ -n "$row" ] || { echo "test-kernels: no row $i" >&2; exit 2; }
	spec=${row%%|*} label=${row#*|}
	dir=$out/row$i
	mkdir -p "$dir"
	dirs+=("$dir")
	echo "$label" >"$dir/label"
	# every row compiles its programs afresh: no row reuses another's cache
	rm -rf "$build/test-cache" "$host_build/test-cache"
	t0=$SECONDS
	if [ "$spec" = host ]; then
		s0=$(cut -d' ' -f1 /proc/uptime)
		(cd "$host_build" && ctest "${ctest_args[@]}" -j2 --output-junit "$dir/junit.xml") >"$dir/log" 2>&1
		echo $? >"$dir/status"
		echo "$s0 $(cut -d' ' -f1 /proc/uptime)" >"$dir/cmd-seconds"
	else
		read -r kernel btf headers <<<"$spec"
		guest_args=("${ctest_args[@]}" -j"$guest_jobs" -E "$(guest_exclude "$btf")")
		"$here/run.sh" --btf "$btf" --headers "$headers" --timeout "$limit" --keep "$dir" "$kernel" -- \
			bash -c 'cd "$BPFLUA_BUILD" && exec ctest "$@" --output-junit /vm/junit.xml' ctest \
			"${guest_args[@]}" >"$dir/log" 2>&1
		[ -s "$dir/status" ] || echo 125 >"$dir/status"
	fi
	echo "test-kernels: [$label] exit $(cat "$dir/status") in $((SECONDS - t0)) s; log $dir/log" >&2
done
rm -rf "$build/test-cache" "$host_build/test-cache"
echo >&2
python3 "$here/table.py" "${dirs[@]}"
rc=$?
echo "test-kernels: ${#dirs[@]} rows in $((SECONDS - start)) s"
exit $rc
