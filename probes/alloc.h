/* Live allocations and their running total per stack, shared by memleak.c
 * (the C allocator) and kmemleak.c (the kernel's kmem tracepoints): one
 * report reads `combined`; --min-age walks `allocs`. */
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

BPF_HASH(allocs, u64, struct alloc_info, 1000000);
BPF_HASH(combined, s32, struct combined, 10240);
BPF_STACK_TRACE(stacks, 16384);
BPF_ARRAY(totals, u64, 4); /* 0 allocations, 1 frees, 2 bytes allocated */
/* the process a user stack was last seen in: its symbols resolve it, where
 * a command's children run other programs */
BPF_HASH(stack_pids, s32, u32, 16384);
#ifdef SIZES
BPF_ARRAY(size_hist, u64, 64);
#endif

static __always_inline void bl_record_alloc(void *ctx, u64 key, u64 size, u64 stack_flags)
{
	struct alloc_info info = { .size = size, .ts = bpf_ktime_get_ns() };
	struct combined zero = {};
	int k = 0;

	info.stack_id = stacks.get_stackid(ctx, stack_flags);
	if (stack_flags & BPF_F_USER_STACK) {
		u32 pid = bpf_get_current_pid_tgid() >> 32;
		u32 *known = stack_pids.lookup(&info.stack_id);

		/* a lookup costs the traced call less than an update */
		if (!known || *known != pid)
			stack_pids.update(&info.stack_id, &pid);
	}
	allocs.update(&key, &info);
	struct combined *c = combined.lookup_or_try_init(&info.stack_id, &zero);
	if (c) {
		__sync_fetch_and_add(&c->bytes, size);
		__sync_fetch_and_add(&c->count, 1);
	}
	totals.atomic_increment(k);
	k = 2;
	totals.atomic_increment(k, size);
#ifdef SIZES
	u32 slot = bpf_log2l(size);
	if (slot < 64)
		size_hist.atomic_increment(slot);
#endif
}

static __always_inline void bl_record_free(u64 key)
{
	struct alloc_info *info = allocs.lookup(&key);
	int k = 1;

	if (!info)
		return;
	struct combined *c = combined.lookup(&info->stack_id);
	if (c) {
		__sync_fetch_and_sub(&c->bytes, info->size);
		__sync_fetch_and_sub(&c->count, 1);
	}
	allocs.delete(&key);
	totals.atomic_increment(k);
}
