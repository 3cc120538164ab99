# BCC (Python) side of the streaming benchmark; the same program and modes
# as stream.lua: ring, perf, fill; and ringbig: a 64 MB ring buffer, which
# holds the whole stream, so BCC loses nothing and pays for every event.
import os, sys, time
from bcc import BPF

mode, done_file, ready_file = sys.argv[1], sys.argv[2], sys.argv[3]
ring = mode != "perf"
text = r"""
struct event { u32 pid; u32 cpu; u64 ts; };
#ifdef RING
BPF_RINGBUF_OUTPUT(events, PAGES);
#else
BPF_PERF_OUTPUT(events);
#endif
TRACEPOINT_PROBE(syscalls, sys_enter_getppid)
{
	char comm[16];
	bpf_get_current_comm(&comm, sizeof(comm));
	if (comm[0] != 'b' || comm[1] != 'l' || comm[2] != '_' || comm[3] != 'b')
		return 0;
	struct event e = { .pid = bpf_get_current_pid_tgid() >> 32, .cpu = bpf_get_smp_processor_id(),
			   .ts = bpf_ktime_get_ns() };
#ifdef RING
	events.ringbuf_output(&e, sizeof(e), 0);
#else
	events.perf_submit(args, &e, sizeof(e));
#endif
	return 0;
}
"""
b = BPF(text=text, cflags=["-DRING" if ring else "-DPERF",
                            "-DPAGES=%d" % (16384 if mode in ("fill", "ringbig") else 1024)])
n = 0
def cb(cpu, data, size):
    global n
    n += 1
if ring:
    b["events"].open_ring_buffer(cb)
else:
    b["events"].open_perf_buffer(cb, page_cnt=1024, lost_cb=lambda lost: None)
open(ready_file, "w").close()
if mode == "fill":
    while not os.path.exists(done_file):
        time.sleep(0.01)
    t0 = time.monotonic()
    b.ring_buffer_consume()
    dt = time.monotonic() - t0
    print("received %d" % n)
    print("drain_per_s %.0f" % (n / dt))
    sys.exit(0)
while True:
    finished = os.path.exists(done_file)
    if ring:
        b.ring_buffer_poll(50)
    else:
        b.perf_buffer_poll(50)
    if finished:
        break
if ring:
    b.ring_buffer_consume()
else:
    b.perf_buffer_poll(0)
print("received %d" % n)
