#include "symbols.h"

#include <bcc/bcc_syms.h>
#include <elf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_CACHES 64

static struct {
	int pid;
	void *cache;
} caches[MAX_CACHES];
static int ncaches;

static void *cache_for(int pid)
{
	struct bcc_symbol_option opt = {
		.use_debug_file = 1,
		.check_debug_file_crc = 1,
		.lazy_symbolize = 1,
		.use_symbol_type = (1 << STT_FUNC) | (1 << STT_GNU_IFUNC),
	};
	void *c;

	if (pid < 0)
		pid = -1;
	for (int i = 0; i < ncaches; i++)
		if (caches[i].pid == pid)
			return caches[i].cache;
	if (ncaches == MAX_CACHES) {
		/* evict the oldest process cache; slot 0 stays the kernel's if it came first */
		bcc_free_symcache(caches[MAX_CACHES - 1].cache, caches[MAX_CACHES - 1].pid);
		ncaches--;
	}
	c = bcc_symcache_new(pid, pid < 0 ? NULL : &opt);
	if (!c)
		return NULL;
	caches[ncaches].pid = pid;
	caches[ncaches].cache = c;
	ncaches++;
	return c;
}

static int lookup(int pid, uint64_t addr, struct bcc_symbol *sym)
{
	void *c = cache_for(pid);

	memset(sym, 0, sizeof(*sym));
	if (!c)
		return -1;
	return bcc_symcache_resolve(c, addr, sym);
}

int bl_sym_resolve(int pid, uint64_t addr, int with_offset, char *out, size_t len)
{
	struct bcc_symbol sym;
	int rc = lookup(pid, addr, &sym);

	if (rc < 0 || !sym.name) {
		snprintf(out, len, "[unknown]");
		if (rc >= 0)
			bcc_symbol_free_demangle_name(&sym);
		return -1;
	}
	if (with_offset)
		snprintf(out, len, "%s+0x%llx", sym.demangle_name ? sym.demangle_name : sym.name,
			 (unsigned long long)sym.offset);
	else
		snprintf(out, len, "%s", sym.demangle_name ? sym.demangle_name : sym.name);
	bcc_symbol_free_demangle_name(&sym);
	return 0;
}

int bl_sym_module(int pid, uint64_t addr, char *out, size_t len)
{
	struct bcc_symbol sym;
	int rc = lookup(pid, addr, &sym);

	snprintf(out, len, "%s", rc >= 0 && sym.module ? sym.module : "");
	if (rc >= 0)
		bcc_symbol_free_demangle_name(&sym);
	return rc < 0 ? -1 : 0;
}

void bl_sym_flush(void)
{
	for (int i = 0; i < ncaches; i++)
		bcc_free_symcache(caches[i].cache, caches[i].pid);
	ncaches = 0;
}
