#!/bin/bash
# bpflua against BCC's Python tools and bpftrace, measured in one run on this
# host; prints a markdown table. Run as root: bench/run.sh
#
# BCC's tools look for kernel headers only under /lib/modules/$(uname -r).
# Where that is missing, they get the tree bpflua found, through a private
# mount namespace (tmpfs over /lib/modules): the host is not changed.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
[ "$(id -u)" = 0 ] || { echo "bench/run.sh: run as root" >&2; exit 1; }

need=""
command -v syscount-bpfcc >/dev/null || need="$need bpfcc-tools python3-bpfcc"
command -v bpftrace >/dev/null || need="$need bpftrace"
[ -x /usr/bin/time ] || need="$need time"
command -v gcc >/dev/null || need="$need gcc"
if [ -n "$need" ]; then
	echo "installing:$need" >&2
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $need >/dev/null
fi
./dev.sh build >/dev/null

BPFLUA=$root/build/bpflua
PY=/usr/bin/python3 # Debian's, where python3-bpfcc lives
export PYTHONUNBUFFERED=1
. "$root/bench/lib.sh"
export BPFLUA_CACHE_DIR=$tmp/cache
gcc -O2 -o "$tmp/bl_benchload" bench/load.c
# the workload runs on one CPU, the same one every time, to keep noise down
cpu=$(($(nproc) - 1))
load() { taskset -c "$cpu" "$tmp/bl_benchload" "$@" | tail -1; }
# fastest N: the fastest of five runs: noise only ever adds time
fastest() { for _ in 1 2 3 4 5; do load "$@"; done | sort -n | head -1; }

echo 'print(BPF.features().headers.path)' >"$tmp/headers.lua"
farm=$("$BPFLUA" "$tmp/headers.lua" 2>/dev/null)
release=$(uname -r)
lend() { "$root/bench/lend.sh" "$farm" "$@"; }
LEND="$root/bench/lend.sh $farm"

BT_COUNT='tracepoint:raw_syscalls:sys_enter { @[args->id] = count(); }'

# --- start and stop of a 1-second syscount -----------------------------
# stop PID: SIGINT first (a tracer's clean exit), SIGTERM if that is ignored
# (a background Python under a non-interactive shell ignores SIGINT)
stop() {
	kill -INT "$1" 2>/dev/null || true
	for _ in $(seq 1 30); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
	kill -TERM "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
}
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
startstop() { # label, command...: prints "wall_overhead_s peak_rss_kb" (median of 3)
	local label=$1; shift
	local i walls="" rss=""
	for i in 1 2 3; do
		[ "$label" = cold ] && "$BPFLUA" cache clear >/dev/null
		local t0=$EPOCHREALTIME
		/usr/bin/time -f "%M" -o "$tmp/time" "$@" >/dev/null 2>"$tmp/err" || { cat "$tmp/err" >&2; return 1; }
		local t1=$EPOCHREALTIME
		walls="$walls $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.4f", b - a - 1 }')"
		rss="$rss $(cat "$tmp/time")"
	done
	echo "$(tr ' ' '\n' <<<"$walls" | grep . | median) $(tr ' ' '\n' <<<"$rss" | grep . | median)"
}
# running RSS: what the tracer holds while it traces (the compile is over)
running_rss() { # command...
	"$@" >/dev/null 2>&1 &
	local p=$!
	sleep 4
	awk '/^VmRSS/ { print $2 }' "/proc/$p/status"
	stop "$p"
}

echo "measuring start-up..." >&2
read -r cold_s cold_rss < <(startstop cold "$BPFLUA" run syscount -d 1)
read -r warm_s warm_rss < <(startstop warm "$BPFLUA" run syscount -d 1)
read -r bcc_s bcc_rss < <(startstop bcc $LEND syscount-bpfcc -d 1)
read -r bt_s bt_rss < <(startstop bt bpftrace -e "$BT_COUNT interval:s:1 { exit(); }")
"$BPFLUA" cache clear >/dev/null
run_cold_rss=$(running_rss "$BPFLUA" run syscount -d 6)
run_warm_rss=$(running_rss "$BPFLUA" run syscount -d 6)
run_bcc_rss=$(running_rss $LEND syscount-bpfcc -d 6)
run_bt_rss=$(running_rss bpftrace -e "$BT_COUNT")

# --- cost per syscall under in-kernel counting -----------------------------
N=5000000
echo "measuring in-kernel counting..." >&2
base=$(fastest $N)
under() { # wait_pattern, command...: the workload's ns/call while command traces
	local pat=$1; shift
	"$@" >"$tmp/out" 2>&1 &
	local p=$!
	pids="$pids $p"
	for _ in $(seq 1 300); do grep -q "$pat" "$tmp/out" && break; sleep 0.05; done
	sleep 0.5
	fastest $N
	stop "$p"
}
count_bpflua=$(under Tracing "$BPFLUA" run syscount)
count_bcc=$(under Tracing $LEND syscount-bpfcc)
count_bt=$(under Attaching bpftrace -e "$BT_COUNT")
base2=$(fastest $N)
base=$(awk -v a="$base" -v b="$base2" 'BEGIN { print (a < b) ? a : b }')

# --- streaming one event per call -------------------------------------------
# Unpinned from here on, as users run: the workload and the tracer go where
# the scheduler puts them. Each figure is the median of three rounds.
free_load() { "$tmp/bl_benchload" "$@" | tail -1; }
M=1000000
echo "measuring event streaming..." >&2
stream() { # tool (bpflua|bcc), mode: prints "ns_per_call received [drain_per_s]"
	# three rounds of M calls (one for fill), a second apart so the reader
	# catches up; the median round counts, every event of all rounds must arrive
	rm -f "$tmp/ready" "$tmp/done"
	if [ "$1" = bpflua ]; then
		"$BPFLUA" bench/stream.lua "$2" "$tmp/done" "$tmp/ready" >"$tmp/sout" 2>"$tmp/serr" &
	else
		$LEND $PY bench/stream.py "$2" "$tmp/done" "$tmp/ready" >"$tmp/sout" 2>"$tmp/serr" &
	fi
	local p=$! n=$M rounds=3 all=""
	pids="$pids $p"
	for _ in $(seq 1 600); do [ -e "$tmp/ready" ] && break; sleep 0.05; done
	[ "$2" = fill ] && { n=500000; rounds=1; }
	for _ in $(seq 1 $rounds); do
		all="$all $(free_load $n)"
		[ $rounds = 1 ] || sleep 1
	done
	touch "$tmp/done"
	wait "$p" || { cat "$tmp/serr" >&2; return 1; }
	echo "$(tr ' ' '\n' <<<"$all" | grep . | median) $(awk '/^received/ { print $2 }' "$tmp/sout") $(awk '/^drain_per_s/ { print $2 }' "$tmp/sout")"
}
# floor WHAT ARGS... : attaches bench/floor.lua's empty programs, in the background
floor() {
	rm -f "$tmp/fready"
	"$BPFLUA" bench/floor.lua "$1" "$tmp/fready" "${@:2}" >/dev/null 2>"$tmp/ferr" &
	floor_pid=$!
	pids="$pids $floor_pid"
	for _ in $(seq 1 600); do [ -e "$tmp/fready" ] && break; sleep 0.05; done
	[ -e "$tmp/fready" ] || { cat "$tmp/ferr" >&2; return 1; }
}
ubase=$(for _ in 1 2 3; do free_load $M; done | median)
floor stream
s_floor_ns=$(for _ in 1 2 3; do free_load $M; done | median)
stop "$floor_pid"
read -r s_work_ns _ < <(stream bpflua work)
read -r s_ring_ns s_ring_n _ < <(stream bpflua ring)
read -r s_timed_ns s_timed_n _ < <(stream bpflua timed)
read -r s_perf_ns s_perf_n _ < <(stream bpflua perf)
read -r b_ring_ns b_ring_n _ < <(stream bcc ring)
read -r b_big_ns b_big_n _ < <(stream bcc ringbig)
read -r b_perf_ns b_perf_n _ < <(stream bcc perf)
read -r _ f_n f_rate < <(stream bpflua fill)
read -r _ bf_n bf_rate < <(stream bcc fill)
# bpftrace: printf per event
bpftrace -e 'tracepoint:syscalls:sys_enter_getppid /comm == "bl_benchload"/ { printf("%d\n", pid); }' >"$tmp/bt" 2>&1 &
p=$!; pids="$pids $p"
for _ in $(seq 1 300); do grep -q Attaching "$tmp/bt" && break; sleep 0.05; done
sleep 0.5
bt_ns=$(for _ in 1 2 3; do free_load $M; sleep 1; done | median)
stop "$p"
bt_n=$(grep -c '^[0-9]' "$tmp/bt" || true)
M3=$((3 * M))

# --- memleak: malloc/free pairs of one process --------------------------------
P=200000
echo "measuring memleak..." >&2
# gated TOOL...: starts the malloc workload gated, the tool on its pid
# (PID in the tool's arguments is replaced), waits for PATTERN in its output
# or the floor's ready file, opens the gate; prints ns per pair
gated() {
	local pat=$1; shift
	rm -f "$tmp/gate" "$tmp/wout"
	"$tmp/bl_benchload" malloc $P "$tmp/gate" >"$tmp/wout" &
	local w=$!
	pids="$pids $w"
	for _ in $(seq 1 100); do [ -s "$tmp/wout" ] && break; sleep 0.02; done
	local wpid
	wpid=$(head -1 "$tmp/wout")
	local tp=""
	if [ "$pat" = floor ] || [ "$pat" = floor_entry ]; then
		floor memleak "$wpid" $([ "$pat" = floor_entry ] && echo entry)
		tp=$floor_pid
	elif [ "$pat" != none ]; then
		"${@//PID/$wpid}" >"$tmp/tout" 2>&1 &
		tp=$!
		pids="$pids $tp"
		for _ in $(seq 1 600); do grep -q "$pat" "$tmp/tout" && break; sleep 0.05; done
		sleep 2 # BCC prints before it attaches
	fi
	touch "$tmp/gate"
	wait "$w"
	[ -n "$tp" ] && stop "$tp"
	tail -1 "$tmp/wout"
}
pairs() { for _ in 1 2 3; do gated "$@"; done | median; }
m_base=$(pairs none)
m_floor=$(pairs floor)
m_floor_entry=$(pairs floor_entry)
m_bpflua=$(pairs Tracing "$BPFLUA" run memleak -p PID)
m_bcc=$(pairs Attaching $LEND memleak-bpfcc -p PID)

# --- profile at 999 Hz: what sampling costs a busy CPU -------------------------
S=20000
echo "measuring profile at 999 Hz..." >&2
spin() { for _ in 1 2 3; do free_load spin $S; done | median; }
sampled() { # pattern, command...: the spin workload's ns/round while command samples
	local pat=$1; shift
	"$@" >"$tmp/pout" 2>&1 &
	local p=$!
	pids="$pids $p"
	for _ in $(seq 1 600); do grep -q "$pat" "$tmp/pout" && break; sleep 0.05; done
	sleep 0.5
	spin
	stop "$p"
}
p_base=$(spin)
floor profile 999
p_floor=$(spin)
stop "$floor_pid"
p_bpflua=$(sampled Sampling "$BPFLUA" run profile -F 999)
p_bcc=$(sampled Sampling $LEND profile-bpfcc -F 999)
p_bt=$(sampled Attaching bpftrace -e 'profile:hz:999 { @[ustack, kstack] = count(); }')

# --- http: a request's round trip with and without the http tracer -------------
# a steady load (R requests at RATE per second, keep-alive, one at a time):
# back to back, the tracer's decoding could not keep up and would only say
# how many it lost
R=10000
RATE=2000
echo "measuring http..." >&2
gcc -O2 -o "$tmp/bl_httpload" bench/httpload.c
rtt() { "$tmp/bl_httpload" $R $RATE | tail -1; } # "median_us mean_us"
h_base=$(for _ in 1 2 3; do rtt; done | median)
# the tracer ends by itself (-d), so its closing note on losses is written:
# a background job of a script ignores SIGINT
t_end=$((SECONDS + 40))
"$BPFLUA" run http -d 40 >"$tmp/hout" 2>"$tmp/herr" &
p=$!; pids="$pids $p"
for _ in $(seq 1 600); do grep -q Tracing "$tmp/herr" && break; sleep 0.05; done
sleep 0.5
h_bpflua=$(for _ in 1 2 3; do rtt; done | median)
[ $SECONDS -lt $t_end ] || echo "bench: the http runs outlasted the tracer's 40 s" >&2
wait "$p" || true
h_seen=$(grep -c '/bench' "$tmp/hout" || true)
h_lost=$(sed -n 's/^http: \([0-9]*\) payloads lost.*/\1/p' "$tmp/herr" | tail -1)

# --- the table ----------------------------------------------------------------
r() { awk -v a="$1" -v b="$2" 'BEGIN { if (b <= 0) print "-"; else printf "%.1f", a / b }'; }
add() { awk -v a="$1" -v b="$base" 'BEGIN { d = a - b; if (d < 0) d = 0; printf "%.2f", d / 1000 }'; }
ms() { awk -v a="$1" 'BEGIN { printf "%.0f", a * 1000 }'; }
mb() { awk -v a="$1" 'BEGIN { printf "%.1f", a / 1024 }'; }
lost() { echo $(($2 - $1)); }
uadd() { awk -v a="$1" -v b="$ubase" 'BEGIN { printf "%.3f", (a - b) / 1000 }'; }
uadd2() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", (a - b) / 1000 }'; }
ratio() { awk -v a="$1" -v b="$2" -v z="$3" 'BEGIN { if (b - z <= 0) print "-"; else printf "%.2f", (a - z) / (b - z) }'; }
pct() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f%%", (a - b) * 100 / b }'; }
cat <<EOT
## bpflua benchmark, $(date -u +%Y-%m-%d), kernel $release, $(nproc) CPUs

Start and stop of a 1-second syscount (wall time minus the 1 s, median of 3;
each run under /usr/bin/time, which adds about a millisecond to every tool):

| tool | start+stop overhead | peak RSS (incl. compiler) | RSS while tracing |
|---|---|---|---|
| bpflua, cold cache | $(ms "$cold_s") ms | $(mb "$cold_rss") MB | $(mb "$run_cold_rss") MB |
| bpflua, warm cache | $(ms "$warm_s") ms | $(mb "$warm_rss") MB | $(mb "$run_warm_rss") MB |
| BCC syscount-bpfcc | $(ms "$bcc_s") ms | $(mb "$bcc_rss") MB | $(mb "$run_bcc_rss") MB |
| bpftrace | $(ms "$bt_s") ms | $(mb "$bt_rss") MB | $(mb "$run_bt_rss") MB |

- warm start overhead: BCC / bpflua = **$(r "$bcc_s" "$warm_s")x** (target 20x), bpftrace / bpflua = **$(r "$bt_s" "$warm_s")x** (target 10x)
- cold start overhead: BCC / bpflua = **$(r "$bcc_s" "$cold_s")x** (target: at least 1x)

Cost per getppid() call ($N calls, fastest of 5, pinned to CPU $cpu; no tracer: $base ns/call):

| in-kernel counting | added per call |
|---|---|
| bpflua syscount (per-CPU array) | $(add "$count_bpflua") us |
| BCC syscount-bpfcc | $(add "$count_bcc") us |
| bpftrace count() | $(add "$count_bt") us |

- bpflua / bpftrace added cost: **$(awk -v a="$count_bpflua" -v b="$count_bt" -v c="$base" 'BEGIN { if (b - c <= 0) print "-"; else printf "%.2f", (a - c) / (b - c) }')** (target at most 0.5)

Streaming one event per call, unpinned (3 rounds of $M calls, the median round's cost; all $M3 events counted; no tracer: $ubase ns/call):

| path | added per event | received | lost |
|---|---|---|---|
| floor: the same tracepoint, an empty program | $(uadd "$s_floor_ns") us | - | - |
| the same program without its output call (its helpers alone) | $(uadd "$s_work_ns") us | - | - |
| bpflua, ring buffer, flags 0 (a user's script) | $(uadd "$s_ring_ns") us | $s_ring_n | $(lost "$s_ring_n" $M3) |
| bpflua, ring buffer, no wake-up + timed drain (bpflua's tracers) | $(uadd "$s_timed_ns") us | $s_timed_n | $(lost "$s_timed_n" $M3) |
| bpflua, perf buffer | $(uadd "$s_perf_ns") us | $s_perf_n | $(lost "$s_perf_n" $M3) |
| BCC Python, ring buffer (4 MB, as bpflua's) | $(uadd "$b_ring_ns") us | $b_ring_n | $(lost "$b_ring_n" $M3) |
| BCC Python, ring buffer (64 MB: holds the whole stream) | $(uadd "$b_big_ns") us | $b_big_n | $(lost "$b_big_n" $M3) |
| BCC Python, perf buffer | $(uadd "$b_perf_ns") us | $b_perf_n | $(lost "$b_perf_n" $M3) |
| bpftrace printf | $(uadd "$bt_ns") us | $bt_n | $(lost "$bt_n" $M3) |

Draining 500000 queued ring-buffer events into a script callback:

| consumer | events/s | received |
|---|---|---|
| bpflua, Lua callback | $f_rate | $f_n |
| BCC, Python callback | $bf_rate | $bf_n |

- a script's ring buffer (flags 0), bpflua / BCC (64 MB, lossless) added cost per event: **$(ratio "$s_ring_ns" "$b_big_ns" "$ubase")** (target at most 0.8, nothing lost); above the floor: bpflua $(uadd2 "$s_ring_ns" "$s_floor_ns") us, BCC $(uadd2 "$b_big_ns" "$s_floor_ns") us; the output call and what comes of it: bpflua $(uadd2 "$s_ring_ns" "$s_work_ns") us, BCC $(uadd2 "$b_big_ns" "$s_work_ns") us
- bpflua's own tracers against the no-wake-up floor: they are that floor (BPF_RB_NO_WAKEUP, drained every 10 ms)
- bpflua / BCC drain rate: **$(r "$f_rate" "$bf_rate")x** (target 4x)

memleak on one process's malloc(64)/free pairs ($P pairs, median of 3 runs, unpinned; no tracer: $m_base ns/pair):

| tracer | added per pair |
|---|---|
| floor: empty programs where memleak probes (malloc entry and return, free past its test) | $(uadd2 "$m_floor" "$m_base") us |
| floor: empty programs where BCC probes (free at its entry, single-stepped) | $(uadd2 "$m_floor_entry" "$m_base") us |
| bpflua run memleak -p | $(uadd2 "$m_bpflua" "$m_base") us |
| BCC memleak-bpfcc -p | $(uadd2 "$m_bcc" "$m_base") us |

- memleak, bpflua / BCC added cost per pair: **$(ratio "$m_bpflua" "$m_bcc" "$m_base")** (target at most 0.9); above its floor: bpflua $(uadd2 "$m_bpflua" "$m_floor") us, BCC $(uadd2 "$m_bcc" "$m_floor_entry") us

Sampling every CPU at 999 Hz: a CPU-bound loop's slowdown ($S rounds, median of 3; no profiler: $p_base ns/round):

| profiler | slowdown |
|---|---|
| floor: an empty perf-event program at 999 Hz | $(pct "$p_floor" "$p_base") |
| bpflua run profile -F 999 | $(pct "$p_bpflua" "$p_base") |
| BCC profile-bpfcc -F 999 | $(pct "$p_bcc" "$p_base") |
| bpftrace profile:hz:999 (user and kernel stacks) | $(pct "$p_bt" "$p_base") |

http: $R keep-alive GETs on 127.0.0.1 at $RATE per second, one at a time (median round trip, median of 3 runs):

| | round trip |
|---|---|
| no tracer | $h_base us |
| bpflua run http | $h_bpflua us (added $(awk -v a="$h_bpflua" -v b="$h_base" 'BEGIN { printf "%.1f", a - b }') us per request; $h_seen of $((6 * R)) requests reported, both sides; ${h_lost:-0} payloads lost) |
EOT
