/* One way to grow an array: doubling from a first size, so appends cost
 * amortised O(1) and every caller handles the failure the same way. */
#ifndef BPFLUA_GROW_H
#define BPFLUA_GROW_H

#include <errno.h>
#include <stdlib.h>

/* Makes *p hold at least `need` elements of `elem` bytes (*cap counts them);
 * 0, or -ENOMEM with *p and *cap unchanged. */
static inline int bl_grow(void **p, size_t *cap, size_t need, size_t elem, size_t first)
{
	size_t n = *cap ? *cap : first;
	void *q;

	if (need <= *cap)
		return 0;
	while (n < need)
		n *= 2;
	q = realloc(*p, n * elem);
	if (!q)
		return -ENOMEM;
	*p = q;
	*cap = n;
	return 0;
}

#endif
