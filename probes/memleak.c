/* Outstanding allocations by stack, in the kernel: uprobes on the C
 * allocator record each live block (address -> size, time, stack) and keep
 * a running total per stack, so a report reads one small map instead of
 * replaying every call.
 *
 *   -DSIZES       also a log2 histogram of allocation sizes
 *   -DCONFIG map: filter_pid (the traced process) */
#include <uapi/linux/ptrace.h>

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
BPF_HASH(sizes, u32, u64, 10240);          /* tid -> requested size */
BPF_HASH(memptrs, u32, u64, 10240);        /* tid -> posix_memalign's out pointer */
BPF_HASH(allocs, u64, struct alloc_info, 1000000);
BPF_HASH(combined, s32, struct combined, 10240);
BPF_STACK_TRACE(stacks, 16384);
BPF_ARRAY(totals, u64, 4);                 /* 0 allocations, 1 frees, 2 bytes allocated */
#ifdef SIZES
BPF_ARRAY(size_hist, u64, 64);
#endif

static __always_inline int wanted(void)
{
	int zero = 0;
	struct config *cf = config.lookup(&zero);

	return cf && cf->ready && (bpf_get_current_pid_tgid() >> 32) == cf->filter_pid;
}

static __always_inline int enter(u64 size)
{
	u32 tid = bpf_get_current_pid_tgid();

	if (!wanted())
		return 0;
	sizes.update(&tid, &size);
	return 0;
}

static __always_inline int leave(struct pt_regs *ctx, u64 addr)
{
	u32 tid = bpf_get_current_pid_tgid();
	u64 *size = sizes.lookup(&tid);

	if (!size)
		return 0;
	struct alloc_info info = { .size = *size, .ts = bpf_ktime_get_ns() };
	sizes.delete(&tid);
	if (!addr)
		return 0; /* failed */
	info.stack_id = stacks.get_stackid(ctx, BPF_F_USER_STACK);
	allocs.update(&addr, &info);
	struct combined zero = {};
	struct combined *c = combined.lookup_or_try_init(&info.stack_id, &zero);
	if (c) {
		__sync_fetch_and_add(&c->bytes, info.size);
		__sync_fetch_and_add(&c->count, 1);
	}
	int k = 0;
	totals.atomic_increment(k);
	k = 2;
	totals.atomic_increment(k, info.size);
#ifdef SIZES
	u32 slot = bpf_log2l(info.size);
	if (slot < 64)
		size_hist.atomic_increment(slot);
#endif
	return 0;
}

static __always_inline int release(u64 addr)
{
	struct alloc_info *info = allocs.lookup(&addr);

	if (!info)
		return 0;
	struct combined *c = combined.lookup(&info->stack_id);
	if (c) {
		__sync_fetch_and_sub(&c->bytes, info->size);
		__sync_fetch_and_sub(&c->count, 1);
	}
	allocs.delete(&addr);
	int k = 1;
	totals.atomic_increment(k);
	return 0;
}

int malloc_enter(struct pt_regs *ctx, size_t size) { return enter(size); }
int malloc_exit(struct pt_regs *ctx) { return leave(ctx, PT_REGS_RC(ctx)); }
int calloc_enter(struct pt_regs *ctx, size_t n, size_t size) { return enter(n * size); }
int calloc_exit(struct pt_regs *ctx) { return leave(ctx, PT_REGS_RC(ctx)); }
int aligned_alloc_enter(struct pt_regs *ctx, size_t align, size_t size) { return enter(size); }
int aligned_alloc_exit(struct pt_regs *ctx) { return leave(ctx, PT_REGS_RC(ctx)); }
int mmap_enter(struct pt_regs *ctx, void *addr, size_t len) { return enter(len); }
int mmap_exit(struct pt_regs *ctx)
{
	u64 rc = PT_REGS_RC(ctx);

	return leave(ctx, rc == (u64)-1 ? 0 : rc); /* MAP_FAILED */
}

int free_enter(struct pt_regs *ctx, void *ptr)
{
	if (!wanted())
		return 0;
	return release((u64)ptr);
}

int munmap_enter(struct pt_regs *ctx, void *addr, size_t len)
{
	if (!wanted())
		return 0;
	return release((u64)addr);
}

/* realloc: the old block goes, a new one (maybe at the same address) comes */
int realloc_enter(struct pt_regs *ctx, void *ptr, size_t size)
{
	if (!wanted())
		return 0;
	release((u64)ptr);
	return enter(size);
}

int realloc_exit(struct pt_regs *ctx) { return leave(ctx, PT_REGS_RC(ctx)); }

int posix_memalign_enter(struct pt_regs *ctx, void **memptr, size_t align, size_t size)
{
	u32 tid = bpf_get_current_pid_tgid();
	u64 p = (u64)memptr;

	if (!wanted())
		return 0;
	memptrs.update(&tid, &p);
	return enter(size);
}

int posix_memalign_exit(struct pt_regs *ctx)
{
	u32 tid = bpf_get_current_pid_tgid();
	u64 *pp = memptrs.lookup(&tid);
	u64 addr = 0;

	if (!pp)
		return 0;
	if (PT_REGS_RC(ctx) == 0)
		bpf_probe_read_user(&addr, sizeof(addr), (void *)*pp);
	memptrs.delete(&tid);
	return leave(ctx, addr);
}
