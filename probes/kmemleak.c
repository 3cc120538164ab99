/* Outstanding kernel allocations by kernel stack, through the kmem
 * tracepoints (stable fields, no kernel structs read): kmalloc and slab
 * objects by address, pages by frame number (kept apart by a high bit).
 * The same maps as memleak.c (alloc.h), so the report code is shared. */
#include "config.h"
#include "alloc.h"

#define PAGE_KEY(pfn) ((pfn) | (1ULL << 63))

static __always_inline void alloc(void *ctx, u64 key, u64 size)
{
	if (key && bl_wanted())
		bl_record_alloc(ctx, key, size, 0);
}

TRACEPOINT_PROBE(kmem, kmalloc) { alloc(args, (u64)args->ptr, args->bytes_alloc); return 0; }
TRACEPOINT_PROBE(kmem, kfree) { bl_record_free((u64)args->ptr); return 0; }
TRACEPOINT_PROBE(kmem, kmem_cache_alloc) { alloc(args, (u64)args->ptr, args->bytes_alloc); return 0; }
TRACEPOINT_PROBE(kmem, kmem_cache_free) { bl_record_free((u64)args->ptr); return 0; }
TRACEPOINT_PROBE(kmem, mm_page_alloc) { alloc(args, PAGE_KEY(args->pfn), 4096ULL << args->order); return 0; }
TRACEPOINT_PROBE(kmem, mm_page_free) { bl_record_free(PAGE_KEY(args->pfn)); return 0; }
