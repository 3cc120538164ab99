/* Block I/O latency: from a request's issue to the device to its
 * completion, as log2 histograms for all disks, per disk (-DBY_DISK) and
 * per I/O kind (-DBY_FLAGS: the tracepoint's rwbs, e.g. "R", "WS", "FWS");
 * in microseconds, or milliseconds with -DMSECS.
 *
 * The tracepoints hand over a request's device and first sector, not the
 * request itself: (device, sector) names a request in flight. */
#include "config.h"

struct start_key {
	u32 dev;
	u32 pad;
	u64 sector;
};

struct hkey {
	u32 dev;  /* 0 unless -DBY_DISK */
	u32 slot;
	char rwbs[8]; /* empty unless -DBY_FLAGS */
};

/* lru: a request whose completion is never seen (requeued, lost) must not
 * keep its slot for good */
BPF_TABLE("lru_hash", struct start_key, u64, start, 65536);
BPF_HASH(hist, struct hkey, u64, 10240);

TRACEPOINT_PROBE(block, block_rq_issue)
{
	struct start_key k = { .dev = args->dev, .sector = args->sector };
	u64 now = bpf_ktime_get_ns();

	if (!bl_wanted())
		return 0;
	start.update(&k, &now);
	return 0;
}

TRACEPOINT_PROBE(block, block_rq_complete)
{
	struct start_key k = { .dev = args->dev, .sector = args->sector };
	u64 *ts = start.lookup(&k);

	if (!ts)
		return 0;
	u64 delta = bpf_ktime_get_ns() - *ts;
	struct hkey key = {};

	start.delete(&k);
#ifdef BY_DISK
	key.dev = args->dev;
#endif
#ifdef BY_FLAGS
	bpf_probe_read_kernel(&key.rwbs, sizeof(key.rwbs), args->rwbs);
#endif
#ifdef MSECS
	key.slot = bpf_log2l(delta / 1000000);
#else
	key.slot = bpf_log2l(delta / 1000);
#endif
	u64 zero = 0, *n = hist.lookup_or_try_init(&key, &zero);

	if (n)
		__sync_fetch_and_add(n, 1); /* a shared map: every CPU adds here */
	return 0;
}
