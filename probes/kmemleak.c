/* Outstanding kernel allocations by kernel stack, through the kmem
 * tracepoints (stable fields, no kernel structs read): kmalloc and slab
 * objects by address, pages by frame number (kept apart by a high bit).
 * The same maps as memleak.c, so the report code is shared. */
struct alloc_info {
	u64 size;
	u64 ts;
	s32 stack_id;
	u32 pad;
};

struct combined {
	u64 bytes;
	u64 count;
};

struct config {
	u32 ready;
	u32 filter_pid;
	u32 exclude_pid;
	u32 unused;
	u64 max_events;
};

BPF_ARRAY(config, struct config, 1);
BPF_HASH(allocs, u64, struct alloc_info, 1000000);
BPF_HASH(combined, s32, struct combined, 10240);
BPF_STACK_TRACE(stacks, 16384);
BPF_ARRAY(totals, u64, 4);
#ifdef SIZES
BPF_ARRAY(size_hist, u64, 64);
#endif

#define PAGE_KEY(pfn) ((pfn) | (1ULL << 63))

static __always_inline int ready(void)
{
	int zero = 0;
	struct config *cf = config.lookup(&zero);

	return cf && cf->ready && (bpf_get_current_pid_tgid() >> 32) != cf->exclude_pid;
}

static __always_inline void alloc(void *ctx, u64 key, u64 size)
{
	struct alloc_info info = { .size = size, .ts = bpf_ktime_get_ns() };

	if (!key || !ready())
		return;
	info.stack_id = stacks.get_stackid(ctx, 0);
	allocs.update(&key, &info);
	struct combined zero = {};
	struct combined *c = combined.lookup_or_try_init(&info.stack_id, &zero);
	if (c) {
		__sync_fetch_and_add(&c->bytes, size);
		__sync_fetch_and_add(&c->count, 1);
	}
	int k = 0;
	totals.atomic_increment(k);
	k = 2;
	totals.atomic_increment(k, size);
#ifdef SIZES
	u32 slot = bpf_log2l(size);
	if (slot < 64)
		size_hist.atomic_increment(slot);
#endif
}

static __always_inline void release(u64 key)
{
	struct alloc_info *info = allocs.lookup(&key);

	if (!info)
		return;
	struct combined *c = combined.lookup(&info->stack_id);
	if (c) {
		__sync_fetch_and_sub(&c->bytes, info->size);
		__sync_fetch_and_sub(&c->count, 1);
	}
	allocs.delete(&key);
	int k = 1;
	totals.atomic_increment(k);
}

TRACEPOINT_PROBE(kmem, kmalloc) { alloc(args, (u64)args->ptr, args->bytes_alloc); return 0; }
TRACEPOINT_PROBE(kmem, kfree) { release((u64)args->ptr); return 0; }
TRACEPOINT_PROBE(kmem, kmem_cache_alloc) { alloc(args, (u64)args->ptr, args->bytes_alloc); return 0; }
TRACEPOINT_PROBE(kmem, kmem_cache_free) { release((u64)args->ptr); return 0; }
TRACEPOINT_PROBE(kmem, mm_page_alloc) { alloc(args, PAGE_KEY(args->pfn), 4096ULL << args->order); return 0; }
TRACEPOINT_PROBE(kmem, mm_page_free) { release(PAGE_KEY(args->pfn)); return 0; }
