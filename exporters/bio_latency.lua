-- Block I/O latency: issue to completion of each request, by disk and
-- operation, from the block tracepoints (no kprobes, no BTF). A log2
-- histogram of nanoseconds with the exact sum per label set.
local OPS = { [0] = "read", [1] = "write", [2] = "flush", [3] = "discard", [4] = "other" }

-- dev_t as the block tracepoints give it (major << 20 | minor) to a name
local function disk(dev)
  local major, minor = dev >> 20, dev & 0xfffff
  local f = io.open(string.format("/sys/dev/block/%d:%d/uevent", major, minor), "r")
  local name = f and f:read("a"):match("DEVNAME=(%S+)")
  if f then f:close() end
  return name or string.format("%d:%d", major, minor)
end

return {
  name = "bio_latency",
  description = "Block I/O latency by disk and operation (read, write, flush, discard), a histogram in seconds",
  text = [[
#define SLOTS 64
struct req_key { u32 dev; u32 pad; u64 sector; };
struct start { u64 ts; u32 op; u32 pad; };
struct lat_key { u32 dev; u32 op; };
struct slot_key { u32 dev; u32 op; u32 slot; u32 pad; };
BPF_TABLE("lru_hash", struct req_key, struct start, started, 65536);
BPF_HASH(hist, struct slot_key, u64, 4096);
BPF_HASH(total, struct lat_key, u64, 256);

static __always_inline u32 op_of(char c0, char c1)
{
	if (c0 == 'F')
		return 2;
	if (c0 == 'R')
		return 0;
	if (c0 == 'W')
		return 1;
	if (c0 == 'D')
		return 3;
	return 4;
}

TRACEPOINT_PROBE(block, block_rq_issue)
{
	struct req_key k = { .dev = args->dev, .sector = args->sector };
	struct start s = { .ts = bpf_ktime_get_ns(), .op = op_of(args->rwbs[0], args->rwbs[1]) };

	started.update(&k, &s);
	return 0;
}

TRACEPOINT_PROBE(block, block_rq_complete)
{
	struct req_key k = { .dev = args->dev, .sector = args->sector };
	struct start *s = started.lookup(&k);

	if (!s)
		return 0;
	u64 delta = bpf_ktime_get_ns() - s->ts;
	struct lat_key lk = { .dev = k.dev, .op = s->op };
	started.delete(&k);
	u32 slot = bpf_log2l(delta);
	if (slot >= SLOTS)
		slot = SLOTS - 1;
	struct slot_key sk = { .dev = lk.dev, .op = lk.op, .slot = slot };
	u64 zero = 0, *n = hist.lookup_or_try_init(&sk, &zero);
	if (n)
		__sync_fetch_and_add(n, 1); /* shared maps: every CPU adds here */
	n = total.lookup_or_try_init(&lk, &zero);
	if (n)
		__sync_fetch_and_add(n, delta);
	return 0;
}
]],
  metrics = {
    { type = "histogram", name = "bpflua_bio_latency_seconds", help = "Block I/O request latency, issue to completion",
      table = "hist", sum_table = "total", unit_scale = 1e-9, slot = "slot",
      labels = { { name = "disk", field = "dev", decode = disk },
                 { name = "operation", field = "op", decode = function(op) return OPS[op] or "other" end } } },
  },
}
