#include "maps_snapshot.h"

#include <bcc/bcc_elf.h>
#include <bcc/bcc_syms.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "grow.h"
#include "symbols.h"

#define GONE_CHECK_MS 10 /* a dead process's pid is read at most this often */
#define MAX_LINE 8192    /* a maps line: addresses, flags and a path (PATH_MAX) */

struct sym {
	uint64_t start, size;
	size_t name; /* into the file's names */
};

/* A mapped file, held open and shared by every snapshot that maps it. */
struct file {
	unsigned long id; /* never reused, so a mapping never names a later file */
	unsigned long long dev, ino; /* as /proc/PID/maps gives them */
	int fd;
	char *path; /* as the process named it */
	unsigned long used;
	int loaded; /* 1: symbols read, -1: unreadable */
	struct sym *syms;
	size_t nsyms, syms_cap;
	char *names;
	size_t names_len, names_cap;
	uint64_t (*segs)[3]; /* executable load segments: vaddr, memsz, file offset */
	size_t nsegs, segs_cap;
};

struct mapping {
	uint64_t start, end, offset;
	unsigned long file;
};

struct snap {
	int pid;
	unsigned long long start;
	unsigned long long exe_dev, exe_ino; /* an exec replaces the mappings */
	unsigned long used;
	uint64_t taken_ms, checked_ms;
	int gone; /* as bl_snap_gone() says */
	int execed; /* since the snapshot: read it again at once */
	struct mapping *maps;
	size_t n;
};

static struct snap snaps[BL_SNAP_MAX_PIDS];
static int nsnaps;
static struct file files[BL_SNAP_MAX_FILES];
static int nfiles;
static unsigned long clock_, last_id;
static size_t symbol_bytes;

static uint64_t now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000 + (uint64_t)t.tv_nsec / 1000000;
}

/* /proc/PID/stat: the state (field 3) and the start time (field 22), after
 * the parenthesised name, which may hold anything; a zombie has no
 * mappings left and counts as gone. */
unsigned long long bl_proc_start_time(int pid)
{
	char path[64], buf[1024], *p;
	unsigned long long t = 0;
	size_t n;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	p = strrchr(buf, ')');
	if (!p || p[1] != ' ' || p[2] == 'Z' || p[2] == 'X')
		return 0;
	for (int field = 2; p && field < 22; field++)
		p = strchr(p + 1, ' ');
	if (!p || sscanf(p + 1, "%llu", &t) != 1)
		return 0;
	return t;
}

static size_t table_bytes(const struct file *f)
{
	return f->syms_cap * sizeof(*f->syms) + f->names_cap + f->segs_cap * sizeof(*f->segs);
}

static void unload(struct file *f)
{
	if (f->loaded > 0)
		symbol_bytes -= table_bytes(f);
	free(f->syms);
	free(f->names);
	free(f->segs);
	f->syms = NULL;
	f->names = NULL;
	f->segs = NULL;
	f->nsyms = f->syms_cap = f->names_len = f->names_cap = f->nsegs = f->segs_cap = 0;
	f->loaded = 0;
}

static void close_file(int i)
{
	unload(&files[i]);
	if (files[i].fd >= 0)
		close(files[i].fd);
	free(files[i].path);
	files[i] = files[--nfiles];
}

/* A slot for a file, the one used longest ago closed when all are taken */
static struct file *new_file(const char *path, int fd)
{
	struct file *f;

	if (nfiles == BL_SNAP_MAX_FILES) {
		int lru = 0;

		for (int i = 1; i < nfiles; i++)
			if (files[i].used < files[lru].used)
				lru = i;
		close_file(lru);
	}
	f = &files[nfiles];
	memset(f, 0, sizeof(*f));
	f->path = strdup(path);
	if (!f->path)
		return NULL;
	f->fd = fd;
	f->id = ++last_id;
	f->used = ++clock_;
	nfiles++;
	return f;
}

static struct file *file_by_id(unsigned long id)
{
	for (int i = 0; i < nfiles; i++)
		if (files[i].id == id)
			return &files[i];
	return NULL;
}

/* The file of a maps line, opened while the process runs: through
 * map_files (the very file mapped, deleted or in another mount namespace),
 * else through the process's root, accepted only with the maps line's
 * device and inode (a file replaced since is another file). */
static unsigned long open_file(int pid, const char *range, const char *path, unsigned long long dev,
			       unsigned long long ino)
{
	const int flags = O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY;
	char proc[64 + MAX_LINE];
	size_t plen = strlen(path);
	struct stat st;
	struct file *f;
	int fd;

	for (int i = 0; i < nfiles; i++)
		if (files[i].dev == dev && files[i].ino == ino) {
			files[i].used = ++clock_;
			return files[i].id;
		}
	snprintf(proc, sizeof(proc), "/proc/%d/map_files/%s", pid, range);
	fd = open(proc, flags);
	if (fd >= 0 && (fstat(fd, &st) || !S_ISREG(st.st_mode))) {
		close(fd);
		fd = -1;
	}
	if (fd < 0) {
		if (plen > 10 && !strcmp(path + plen - 10, " (deleted)"))
			plen -= 10;
		snprintf(proc, sizeof(proc), "/proc/%d/root%.*s", pid, (int)plen, path);
		fd = open(proc, flags);
		if (fd < 0)
			return 0;
		if (fstat(fd, &st) || !S_ISREG(st.st_mode) || st.st_dev != makedev(dev >> 32, dev & 0xffffffff) ||
		    st.st_ino != ino) {
			close(fd);
			return 0;
		}
	}
	f = new_file(path, fd);
	if (!f) {
		close(fd);
		return 0;
	}
	f->dev = dev;
	f->ino = ino;
	return f->id;
}

static struct snap *find(int pid)
{
	for (int i = 0; i < nsnaps; i++)
		if (snaps[i].pid == pid)
			return &snaps[i];
	return NULL;
}

static void drop_at(int i)
{
	free(snaps[i].maps);
	snaps[i] = snaps[--nsnaps];
}

static int by_start(const void *a, const void *b)
{
	const struct mapping *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

/* The vDSO, the same image in every process of this kernel: its symbols
 * come from bpflua's own (libbcc), at offsets from where it is mapped. */
static unsigned long vdso_file(void)
{
	struct file *f;

	for (int i = 0; i < nfiles; i++)
		if (files[i].fd < 0) {
			files[i].used = ++clock_;
			return files[i].id;
		}
	f = new_file("[vdso]", -1);
	return f ? f->id : 0;
}

/* The executable file mappings of /proc/PID/maps (and the vDSO), at most
 * max: untrusted text, every field checked. */
static int read_maps(int pid, struct mapping *out, size_t max, size_t *n)
{
	char path[64], *line = NULL;
	size_t cap = 0;
	ssize_t len;
	FILE *f;

	*n = 0;
	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while ((len = getline(&line, &cap, f)) > 0 && *n < max) {
		unsigned long long start, end, off, ino;
		unsigned int major, minor;
		char perms[5], range[64];
		int pos = 0;

		if (line[len - 1] == '\n')
			line[--len] = '\0';
		if (len >= MAX_LINE ||
		    sscanf(line, "%llx-%llx %4s %llx %x:%x %llu %n", &start, &end, perms, &off, &major, &minor, &ino,
			   &pos) != 7 ||
		    !pos || start >= end || strlen(perms) != 4 || perms[2] != 'x')
			continue;
		snprintf(range, sizeof(range), "%llx-%llx", start, end);
		if (!strcmp(line + pos, "[vdso]"))
			out[*n].file = vdso_file();
		else if (ino && line[pos] == '/')
			out[*n].file = open_file(pid, range, line + pos, (unsigned long long)major << 32 | minor, ino);
		else
			continue;
		if (!out[*n].file)
			continue;
		out[*n].start = start;
		out[*n].end = end;
		out[*n].offset = off;
		(*n)++;
	}
	free(line);
	fclose(f);
	return 0;
}

static void exe_identity(int pid, unsigned long long *dev, unsigned long long *ino)
{
	char path[64];
	struct stat st;

	snprintf(path, sizeof(path), "/proc/%d/exe", pid);
	if (stat(path, &st)) {
		*dev = *ino = 0;
		return;
	}
	*dev = st.st_dev;
	*ino = st.st_ino;
}

static int overlaps(const struct mapping *m, const struct mapping *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (m->start < list[i].end && list[i].start < m->end)
			return 1;
	return 0;
}

int bl_snap_take(int pid, unsigned max_age_ms)
{
	unsigned long long start, dev, ino;
	struct mapping *fresh;
	struct snap *s = pid > 0 ? find(pid) : NULL;
	uint64_t now = now_ms();
	size_t n;
	int err;

	/* called for every address resolved: a recent snapshot of a process
	 * still running (checked every few ms) costs no reading of /proc */
	if (s && now - s->taken_ms < max_age_ms && bl_snap_gone(pid) == 0 && !s->execed) {
		s->used = ++clock_;
		return (int)s->n;
	}
	start = pid > 0 ? bl_proc_start_time(pid) : 0;
	if (!start)
		return -ESRCH;
	fresh = calloc(BL_SNAP_MAX_MAPPINGS, sizeof(*fresh));
	if (!fresh)
		return -ENOMEM;
	exe_identity(pid, &dev, &ino);
	err = read_maps(pid, fresh, BL_SNAP_MAX_MAPPINGS, &n);
	if (err) {
		free(fresh);
		return err;
	}
	if (s && (s->start != start || s->gone || (ino && (s->exe_dev != dev || s->exe_ino != ino)))) {
		/* another process under the pid, or an exec: the old mappings
		 * describe nothing that will be sampled again. (A process on its
		 * way out has no exe and no mappings left: that is no exec.) */
		s->n = 0;
	}
	if (!s) {
		if (nsnaps == BL_SNAP_MAX_PIDS) {
			int lru = 0;

			for (int i = 1; i < nsnaps; i++)
				if (snaps[i].used < snaps[lru].used)
					lru = i;
			drop_at(lru);
		}
		s = &snaps[nsnaps++];
		memset(s, 0, sizeof(*s));
		s->pid = pid;
	}
	/* what was mapped before and is not covered now stays, newest first
	 * when the bound is reached */
	for (size_t i = 0; i < s->n && n < BL_SNAP_MAX_MAPPINGS; i++)
		if (!overlaps(&s->maps[i], fresh, n))
			fresh[n++] = s->maps[i];
	qsort(fresh, n, sizeof(*fresh), by_start);
	free(s->maps);
	s->maps = n ? realloc(fresh, n * sizeof(*fresh)) : NULL;
	if (n && !s->maps)
		s->maps = fresh;
	else if (!n)
		free(fresh);
	s->n = n;
	s->start = start;
	if (ino) {
		s->exe_dev = dev;
		s->exe_ino = ino;
	}
	s->gone = s->execed = 0;
	s->taken_ms = s->checked_ms = now;
	s->used = ++clock_;
	return (int)n;
}

/* The children of pid's main thread (/proc/PID/task/PID/children, as the
 * kernel lists them: decimal pids and spaces), appended to out up to max */
static size_t children(int pid, int *out, size_t n, size_t max)
{
	char path[96];
	FILE *f;
	long c;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", pid, pid);
	f = fopen(path, "re");
	if (!f)
		return n;
	while (n < max && fscanf(f, "%ld", &c) == 1)
		if (c > 0 && c <= INT32_MAX)
			out[n++] = (int)c;
	fclose(f);
	return n;
}

int bl_snap_take_tree(int pid, unsigned max_age_ms, int max_procs)
{
	int *procs, taken = 0;
	size_t n = 1;

	if (max_procs < 1)
		return -EINVAL;
	procs = calloc((size_t)max_procs, sizeof(*procs));
	if (!procs)
		return -ENOMEM;
	procs[0] = pid;
	/* breadth first: each process's children join the list as it is taken */
	for (size_t i = 0; i < n; i++) {
		if (bl_snap_take(procs[i], max_age_ms) >= 0)
			taken++;
		n = children(procs[i], procs, n, (size_t)max_procs);
	}
	free(procs);
	return taken;
}

int bl_snap_gone(int pid)
{
	struct snap *s = find(pid);
	uint64_t now;

	if (!s)
		return -ENOENT;
	now = now_ms();
	if (now - s->checked_ms >= GONE_CHECK_MS) {
		unsigned long long start = bl_proc_start_time(pid), dev, ino;

		s->gone = start == s->start ? 0 : start ? 2 : 1;
		s->checked_ms = now;
		if (!s->gone) {
			exe_identity(pid, &dev, &ino);
			s->execed = ino && (dev != s->exe_dev || ino != s->exe_ino);
		}
	}
	return s->gone;
}

static int add_segment(uint64_t vaddr, uint64_t memsz, uint64_t offset, void *arg)
{
	struct file *f = arg;

	if (bl_grow((void **)&f->segs, &f->segs_cap, f->nsegs + 1, sizeof(*f->segs), 4))
		return -1;
	f->segs[f->nsegs][0] = vaddr;
	f->segs[f->nsegs][1] = memsz;
	f->segs[f->nsegs][2] = offset;
	f->nsegs++;
	return 0;
}

static int add_symbol(const char *name, uint64_t start, uint64_t size, void *arg)
{
	struct file *f = arg;
	size_t len = strlen(name) + 1;

	if (bl_grow((void **)&f->syms, &f->syms_cap, f->nsyms + 1, sizeof(*f->syms), 256) ||
	    bl_grow((void **)&f->names, &f->names_cap, f->names_len + len, 1, 4096))
		return -1;
	memcpy(f->names + f->names_len, name, len);
	f->syms[f->nsyms].start = start;
	f->syms[f->nsyms].size = size;
	f->syms[f->nsyms].name = f->names_len;
	f->names_len += len;
	f->nsyms++;
	return 0;
}

static int by_address(const void *a, const void *b)
{
	const struct sym *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

/* The file's symbols and executable segments, read through its descriptor
 * with the options bpflua reads every binary with (debug files by build id
 * included). The tables of files unused longest go first when they outgrow
 * their bound; the file stays open to read them again. */
static int load(struct file *f)
{
	struct bcc_symbol_option opt = *bl_sym_options();
	char path[64];

	if (f->loaded)
		return f->loaded > 0 ? 0 : -ENODATA;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", f->fd);
	opt.lazy_symbolize = 0; /* names are copied here, the file may go */
	if (f->fd < 0 ? bcc_elf_foreach_vdso_sym(add_symbol, f) < 0 :
	    bcc_elf_foreach_load_section(path, add_segment, f) < 0 || bcc_elf_foreach_sym(path, add_symbol, &opt, f) < 0) {
		unload(f);
		f->loaded = -1;
		return -ENODATA;
	}
	if (f->nsyms) /* a file without symbols has no table at all */
		qsort(f->syms, f->nsyms, sizeof(*f->syms), by_address);
	f->loaded = 1;
	symbol_bytes += table_bytes(f);
	while (symbol_bytes > BL_SNAP_MAX_SYMBOL_BYTES) {
		struct file *lru = NULL;

		for (int i = 0; i < nfiles; i++)
			if (&files[i] != f && files[i].loaded > 0 && (!lru || files[i].used < lru->used))
				lru = &files[i];
		if (!lru)
			break;
		unload(lru);
	}
	return 0;
}

/* The innermost function symbol holding vaddr */
static const struct sym *lookup(const struct file *f, uint64_t vaddr)
{
	size_t lo = 0, hi = f->nsyms;

	while (lo < hi) { /* the first symbol starting above vaddr */
		size_t mid = lo + (hi - lo) / 2;

		if (f->syms[mid].start <= vaddr)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (size_t i = lo, tries = 0; i-- > 0 && tries < 16; tries++) {
		const struct sym *s = &f->syms[i];

		if (vaddr < s->start + (s->size ? s->size : 1))
			return s;
	}
	return NULL;
}

static void demangled(const char *name, char *out, size_t len)
{
	static char *(*demangle)(const char *, char *, size_t *, int *);
	static int looked;
	char *d = NULL;
	int status = -1;

	if (!looked) {
		/* the C++ runtime libbcc brings along, when it is there */
		*(void **)&demangle = dlsym(RTLD_DEFAULT, "__cxa_demangle");
		looked = 1;
	}
	if (demangle && !strncmp(name, "_Z", 2))
		d = demangle(name, NULL, NULL, &status);
	snprintf(out, len, "%s", d && !status ? d : name);
	free(d);
}

int bl_snap_resolve(int pid, uint64_t addr, char *name, size_t len, uint64_t *offset, char *module, size_t mlen)
{
	struct snap *s = find(pid);
	const struct mapping *m = NULL;
	const struct sym *sym;
	struct file *f;
	uint64_t off, vaddr;

	if (module && mlen)
		module[0] = '\0';
	if (!s)
		return -ENOENT;
	s->used = ++clock_;
	for (size_t i = 0; i < s->n && !m; i++)
		if (s->maps[i].start <= addr && addr < s->maps[i].end)
			m = &s->maps[i];
	f = m ? file_by_id(m->file) : NULL;
	if (!f)
		return -ENOENT;
	f->used = ++clock_;
	if (module)
		snprintf(module, mlen, "%s", f->path);
	if (load(f))
		return -ENODATA;
	off = addr - m->start + m->offset;
	vaddr = off;
	for (size_t i = 0; i < f->nsegs; i++)
		if (f->segs[i][2] <= off && off - f->segs[i][2] < f->segs[i][1]) {
			vaddr = off - f->segs[i][2] + f->segs[i][0];
			break;
		}
	sym = lookup(f, vaddr);
	if (!sym)
		return -ENODATA;
	if (name)
		demangled(f->names + sym->name, name, len);
	if (offset)
		*offset = vaddr - sym->start;
	return 0;
}

int bl_snap_count(void)
{
	return nsnaps;
}

int bl_snap_files(void)
{
	return nfiles;
}

void bl_snap_drop(int pid)
{
	for (int i = nsnaps; i-- > 0;)
		if (pid < 0 || snaps[i].pid == pid)
			drop_at(i);
	if (pid < 0)
		while (nfiles)
			close_file(nfiles - 1);
}
