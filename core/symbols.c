#include "symbols.h"
#include "maps_snapshot.h"

#include <bcc/bcc_proc.h>
#include <bcc/bcc_syms.h>
#include <errno.h>
#include <linux/bpf.h>
#include <elf.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* libbcc 0.26 closes a file descriptor it never opened: ProcSyms::ModulePath
 * leaves fd_ uninitialised for modules added without entering the process's
 * namespace (every process's /tmp/perf-PID.map, memfd mappings), and its
 * destructor closes fd_ when it is above 0. Whatever int the heap held there
 * is closed when the symbol cache is freed: a map, a perf event, or stdout,
 * which is how long profiles under process churn lost their output. Fixed
 * upstream in 0.33 (commit 68710c4f, "syms: Initialize ModulePath::fd_").
 * The C++ allocation functions are replaceable by the program, so ours hand
 * out zeroed memory: fd_ reads 0 and nothing is closed. The whole set is
 * replaced so new and delete always pair (the sanitizers check that). */
void *_Znwm(size_t n);
void *_Znam(size_t n);
void *_ZnwmRKSt9nothrow_t(size_t n, const void *nothrow);
void *_ZnamRKSt9nothrow_t(size_t n, const void *nothrow);
void _ZdlPv(void *p);
void _ZdaPv(void *p);
void _ZdlPvm(void *p, size_t n);
void _ZdaPvm(void *p, size_t n);
void _ZdlPvRKSt9nothrow_t(void *p, const void *nothrow);
void _ZdaPvRKSt9nothrow_t(void *p, const void *nothrow);

void *_Znwm(size_t n)
{
	void *p = calloc(1, n ? n : 1);

	if (!p) {
		static const char msg[] = "bpflua: out of memory\n";

		/* operator new may not return NULL, and C cannot throw */
		if (write(2, msg, sizeof(msg) - 1) < 0)
			abort();
		abort();
	}
	return p;
}

void *_Znam(size_t n)
{
	return _Znwm(n);
}

void *_ZnwmRKSt9nothrow_t(size_t n, const void *nothrow)
{
	(void)nothrow;
	return calloc(1, n ? n : 1);
}

void *_ZnamRKSt9nothrow_t(size_t n, const void *nothrow)
{
	(void)nothrow;
	return calloc(1, n ? n : 1);
}

void _ZdlPv(void *p)
{
	free(p);
}

void _ZdaPv(void *p)
{
	free(p);
}

void _ZdlPvm(void *p, size_t n)
{
	(void)n;
	free(p);
}

void _ZdaPvm(void *p, size_t n)
{
	(void)n;
	free(p);
}

void _ZdlPvRKSt9nothrow_t(void *p, const void *nothrow)
{
	(void)nothrow;
	free(p);
}

void _ZdaPvRKSt9nothrow_t(void *p, const void *nothrow)
{
	(void)nothrow;
	free(p);
}

/* One libbcc symbol cache per process, a few MB each once its libraries are
 * read: a bounded set, least recently used out first. Caches of processes
 * that exited (or whose pid now names another process) go at bl_sym_trim(). */
#define MAX_CACHES (BL_SYM_MAX_CACHES + 1) /* and the kernel's */

static struct {
	int pid;
	unsigned long long start; /* the process's start time, to notice pid reuse */
	unsigned long used;
	void *cache;
} caches[MAX_CACHES];
static int ncaches;
static unsigned long clock_;

static void drop(int i)
{
	bcc_free_symcache(caches[i].cache, caches[i].pid);
	caches[i] = caches[--ncaches];
}

const struct bcc_symbol_option *bl_sym_options(void)
{
	static const struct bcc_symbol_option opt = {
		.use_debug_file = 1,
		.check_debug_file_crc = 1,
		.lazy_symbolize = 1,
		.use_symbol_type = (1 << STT_FUNC) | (1 << STT_GNU_IFUNC),
	};

	return &opt;
}

static void *cache_for(int pid)
{
	struct bcc_symbol_option opt = *bl_sym_options(); /* libbcc's prototype is not const */
	void *c;
	int lru = -1;

	if (pid < 0)
		pid = -1;
	if (!clock_)
		/* a fixed threshold: the C library would otherwise raise it to
		 * the largest block freed so far (an ELF section of some library),
		 * and from then on such blocks would stay in the heap, between
		 * smaller ones that keep its pages */
		mallopt(M_MMAP_THRESHOLD, 128 * 1024);
	clock_++;
	for (int i = 0; i < ncaches; i++)
		if (caches[i].pid == pid) {
			caches[i].used = clock_;
			return caches[i].cache;
		}
	if (pid >= 0 && bl_sym_cached() == BL_SYM_MAX_CACHES) {
		for (int i = 0; i < ncaches; i++)
			if (caches[i].pid >= 0 && (lru < 0 || caches[i].used < caches[lru].used))
				lru = i;
		drop(lru);
	}
	c = bcc_symcache_new(pid, pid < 0 ? NULL : &opt);
	if (!c)
		return NULL;
	caches[ncaches].pid = pid;
	caches[ncaches].start = pid < 0 ? 0 : bl_proc_start_time(pid);
	caches[ncaches].used = clock_;
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

/* A process's mappings are snapshotted when its addresses are first asked
 * for and again at most every SNAP_REFRESH_MS (core/maps_snapshot.c): once
 * it is gone, its addresses resolve from the snapshot. libbcc's cache of a
 * running process comes first (it also reads JIT perf maps and the vDSO);
 * each answers when the other cannot. */
#define SNAP_REFRESH_MS 1000

static int from_snapshot(int pid, uint64_t addr, int with_offset, char *out, size_t len)
{
	char name[512];
	uint64_t off;

	if (pid <= 0 || bl_snap_resolve(pid, addr, name, sizeof(name), &off, NULL, 0))
		return -1;
	if (with_offset)
		snprintf(out, len, "%s+0x%llx", name, (unsigned long long)off);
	else
		snprintf(out, len, "%s", name);
	return 0;
}

/* 1 when pid's snapshot speaks for it (its process exited); else one is
 * taken, refreshed, or replaced (the pid was reused: the process running
 * now is the likelier owner of its stacks) while the process runs */
static int snapshot_first(int pid)
{
	if (pid <= 0)
		return 0;
	if (bl_snap_gone(pid) == 1)
		return 1;
	bl_snap_take(pid, SNAP_REFRESH_MS);
	return 0;
}

int bl_sym_resolve(int pid, uint64_t addr, int with_offset, char *out, size_t len)
{
	struct bcc_symbol sym;
	int rc;

	if (snapshot_first(pid) && !from_snapshot(pid, addr, with_offset, out, len))
		return 0;
	rc = lookup(pid, addr, &sym);
	if (rc < 0 || !sym.name) {
		if (rc >= 0)
			bcc_symbol_free_demangle_name(&sym);
		if (!from_snapshot(pid, addr, with_offset, out, len))
			return 0;
		snprintf(out, len, "[unknown]");
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
	int rc;

	if (snapshot_first(pid)) {
		bl_snap_resolve(pid, addr, NULL, 0, NULL, out, len);
		if (*out)
			return 0;
	}
	rc = lookup(pid, addr, &sym);
	snprintf(out, len, "%s", rc >= 0 && sym.module ? sym.module : "");
	if (rc >= 0)
		bcc_symbol_free_demangle_name(&sym);
	if (!*out && pid > 0)
		bl_snap_resolve(pid, addr, NULL, 0, NULL, out, len);
	return *out ? 0 : -1;
}

int bl_sym_snapshot(int pid, unsigned max_age_ms)
{
	return bl_snap_take(pid, max_age_ms);
}

void bl_sym_flush(void)
{
	while (ncaches)
		drop(ncaches - 1);
	bl_snap_drop(-1);
}

int bl_sym_trim(void)
{
	int dropped = 0;

	for (int i = ncaches; i-- > 0;) {
		if (caches[i].pid < 0 || (caches[i].start && bl_proc_start_time(caches[i].pid) == caches[i].start))
			continue;
		drop(i);
		dropped++;
	}
	/* a process's tables are many small blocks, freed in the middle of the
	 * heap where the C library keeps them: give the pages back, or a long
	 * run under process churn grows by what the busiest moment held */
	if (dropped)
		malloc_trim(0);
	return dropped;
}

int bl_sym_cached(void)
{
	int n = 0;

	for (int i = 0; i < ncaches; i++)
		n += caches[i].pid >= 0;
	return n;
}

/* Build-id stacks (BPF_STACK_TRACE_BUILDID): the kernel gives a file's build
 * id and an offset in it, resolved through libbcc's build-id cache, which
 * knows the files added to it (BCC's add_module), and here also those the
 * process maps, added on first need. */
static void *buildsyms;

static int add_pid_module(mod_info *mod, int enter_ns, void *arg)
{
	(void)enter_ns;
	(void)arg;
	if (mod->name && mod->name[0] == '/')
		bcc_buildsymcache_add_module(buildsyms, mod->name);
	return 0;
}

int bl_sym_add_module(const char *path)
{
	if (!buildsyms)
		buildsyms = bcc_buildsymcache_new();
	if (!buildsyms)
		return -ENOMEM;
	return bcc_buildsymcache_add_module(buildsyms, path) < 0 ? -ENOENT : 0;
}

int bl_sym_buildid(const struct bpf_stack_build_id *frame, int pid, int with_offset, char *out, size_t len)
{
	struct bpf_stack_build_id f = *frame;
	struct bcc_symbol sym;
	char hex[2 * BPF_BUILD_ID_SIZE + 1];
	int rc;

	if (frame->status != BPF_STACK_BUILD_ID_VALID)
		return bl_sym_resolve(pid, frame->ip, with_offset, out, len);
	if (!buildsyms)
		buildsyms = bcc_buildsymcache_new();
	if (!buildsyms) {
		snprintf(out, len, "[unknown]");
		return -1;
	}
	memset(&sym, 0, sizeof(sym));
	rc = bcc_buildsymcache_resolve(buildsyms, &f, &sym);
	if (rc < 0 && pid > 0) {
		bcc_procutils_each_module(pid, add_pid_module, NULL);
		memset(&sym, 0, sizeof(sym));
		rc = bcc_buildsymcache_resolve(buildsyms, &f, &sym);
	}
	if (rc >= 0 && sym.name) {
		if (with_offset)
			snprintf(out, len, "%s+0x%llx", sym.name, (unsigned long long)sym.offset);
		else
			snprintf(out, len, "%s", sym.name);
		return 0;
	}
	/* no symbol: the module and offset, or the build id when the file is unknown */
	if (sym.module) {
		const char *base = strrchr(sym.module, '/');

		snprintf(out, len, "%s+0x%llx", base ? base + 1 : sym.module, (unsigned long long)frame->offset);
		return -1;
	}
	for (int i = 0; i < BPF_BUILD_ID_SIZE; i++)
		snprintf(hex + 2 * i, 3, "%02x", frame->build_id[i]);
	snprintf(out, len, "[buildid %s+0x%llx]", hex, (unsigned long long)frame->offset);
	return -1;
}
