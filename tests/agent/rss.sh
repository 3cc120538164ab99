#!/bin/bash
# The agent's memory budget (issue 14: under 50 MB): bench/agent_rss.sh runs
# bpflua agent with all four tracers on (CPU profile, network with HTTP,
# syscalls, memory of the HTTP server) under a bounded local HTTP load, with
# a pprof profile pulled midway; its VmRSS and VmHWM after the load must stay
# under 50 MB, with every request answered counted and no event lost.
# ASan's shadow memory and quarantine would swamp what is measured, so a
# sanitized bpflua has a plain build made beside it (BPFLUA_RSS_BUILD).
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../cli/lib.sh"
src=$(cd "$here/../.." && pwd)
LIMIT_KB=$((50 * 1024))
RATE=${BPFLUA_RSS_RATE:-200}
SECS=${BPFLUA_RSS_SECONDS:-20}

# grep -c reads all of ldd's output: with pipefail, grep -q's early exit
# could kill ldd with SIGPIPE and turn a match into a failure (it did, in a
# fresh Debian root: the sanitized binary was measured)
sanitized() { ldd "$1" 2>/dev/null | grep -c libasan >/dev/null; }

bin=$BPFLUA
if sanitized "$BPFLUA"; then
	build=${BPFLUA_RSS_BUILD:-$tmp/build}
	{ cmake -S "$src" -B "$build" -DBPFLUA_SANITIZE=OFF -DBUILD_TESTING=OFF &&
		nice -n 10 cmake --build "$build" -j2 --target bpflua; } >"$tmp/build.log" 2>&1 ||
		{ cat "$tmp/build.log"; bad "a plain (not sanitized) build in $build"; finish agent_rss; }
	bin=$build/bpflua
fi
check "the measured bpflua is not sanitized" bash -c "! ldd '$bin' | grep -c libasan >/dev/null"

out=$(AGENT_RSS_PPROF=1 AGENT_RSS_SMAPS=$tmp/smaps BPFLUA_CACHE_DIR=$tmp/cache timeout 300 "$src/bench/agent_rss.sh" "$bin" "$RATE" "$SECS" 2>"$tmp/bench.err" | tail -1)
echo "$out"
eval "$(echo "$out" | grep -E '^rss_kb=[0-9]+ hwm_kb=[0-9]+ sent=[0-9]+ answered=[0-9]+ errors=[0-9]+ counted=[0-9]+ samples=[0-9]+ lost=[0-9]+ profile_bytes=[0-9]+$')"
if [ -z "${rss_kb:-}" ]; then
	cat "$tmp/bench.err"
	bad "bench/agent_rss.sh printed no numbers"
	finish agent_rss
fi
check "VmRSS $rss_kb kB under $LIMIT_KB kB" [ "$rss_kb" -lt $LIMIT_KB ]
check "VmHWM $hwm_kb kB under $LIMIT_KB kB" [ "$hwm_kb" -lt $LIMIT_KB ]
if [ "$rss_kb" -ge $LIMIT_KB ]; then # where it went: the largest mappings
	awk '/^[0-9a-f]+-[0-9a-f]+ / { m = $6 ? $6 : "[anon]" } /^Rss:/ { r[m] += $2 }
		END { for (m in r) print r[m], m }' "$tmp/smaps" | sort -rn | head -8
fi
check "a load ran ($answered requests answered)" [ "$answered" -gt 100 ]
# a request the client gave up on (5 s) may have been answered all the same
check "no request failed on the client's side ($errors of $sent)" [ "$errors" = 0 ]
check "every answered request counted ($counted of $answered)" [ "$counted" = "$answered" ]
check "no event lost ($lost)" [ "$lost" = 0 ]
# the profile counts its samples by command without resolving a stack, and
# resolves them for the pprof profile pulled midway (counted in the budget)
check "CPU samples counted ($samples)" [ "$samples" -gt 0 ]
check "a pprof profile pulled midway ($profile_bytes bytes)" [ "$profile_bytes" -gt 100 ]
finish agent_rss
