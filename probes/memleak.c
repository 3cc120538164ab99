/* Outstanding allocations of one process by user stack: uprobes on the C
 * allocator feed alloc.h's maps, so a report reads one small map instead
 * of replaying every call. -DSIZES adds a log2 histogram of sizes. */
#include <uapi/linux/ptrace.h>
#include "config.h"
#include "alloc.h"

BPF_HASH(sizes, u32, u64, 10240);   /* tid -> requested size, entry to return */
BPF_HASH(memptrs, u32, u64, 10240); /* tid -> posix_memalign's out pointer */

static __always_inline int enter(u64 size)
{
	u32 tid = bpf_get_current_pid_tgid();

	if (!bl_wanted())
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
	u64 n = *size;
	sizes.delete(&tid);
	if (addr) /* 0: the allocation failed */
		bl_record_alloc(ctx, addr, n, BPF_F_USER_STACK);
	return 0;
}

static __always_inline int release(u64 addr)
{
	if (bl_wanted())
		bl_record_free(addr);
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

int free_enter(struct pt_regs *ctx, void *ptr) { return release((u64)ptr); }
int munmap_enter(struct pt_regs *ctx, void *addr, size_t len) { return release((u64)addr); }

/* realloc: the old block goes, a new one (maybe at the same address) comes */
int realloc_enter(struct pt_regs *ctx, void *ptr, size_t size)
{
	release((u64)ptr);
	return enter(size);
}

int realloc_exit(struct pt_regs *ctx) { return leave(ctx, PT_REGS_RC(ctx)); }

int posix_memalign_enter(struct pt_regs *ctx, void **memptr, size_t align, size_t size)
{
	u32 tid = bpf_get_current_pid_tgid();
	u64 p = (u64)memptr;

	if (!bl_wanted())
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
