#include "usdt.h"

#include <bcc/bcc_elf.h>
#include <bcc/bcc_proc.h>
#include <bcc/bcc_syms.h>
#include <bcc/bcc_usdt.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../error.h"
#include "../grow.h"

/* libbcc's foreach callbacks take no payload: the context being filled. */
static struct bl_usdt *filling;
static int fill_err;

static void add_probe(struct bcc_usdt *info)
{
	struct bl_usdt *u = filling;
	struct bl_usdt_probe *p;

	if (fill_err || bl_grow((void **)&u->probes, &u->capprobes, u->nprobes + 1, sizeof(*p), 16)) {
		fill_err = -ENOMEM;
		return;
	}
	p = &u->probes[u->nprobes];
	memset(p, 0, sizeof(*p));
	p->provider = strdup(info->provider);
	p->name = strdup(info->name);
	p->bin_path = strdup(info->bin_path);
	p->semaphore = info->semaphore;
	p->nlocations = info->num_locations;
	p->narguments = info->num_arguments;
	u->nprobes++;
	if (!p->provider || !p->name || !p->bin_path)
		fill_err = -ENOMEM;
}

/* The semaphore's offset in its file, what the kernel's counter takes
 * (libbcc 0.26 leaves bcc_elf_usdt.semaphore_offset at 0, and its segment
 * walk sees only executable ones): the semaphore's address mapped through
 * the loadable segment that holds it, from the ELF program headers. */
static int semaphore_offset(struct bl_usdt_probe *p)
{
	int fd = open(p->bin_path, O_RDONLY | O_CLOEXEC), found = 0;
	Elf *e = NULL;
	size_t n = 0;

	if (fd >= 0 && elf_version(EV_CURRENT) != EV_NONE)
		e = elf_begin(fd, ELF_C_READ, NULL);
	if (e && elf_getphdrnum(e, &n) == 0)
		for (size_t i = 0; i < n && !found; i++) {
			GElf_Phdr ph;

			if (!gelf_getphdr(e, (int)i, &ph) || ph.p_type != PT_LOAD)
				continue;
			if (p->semaphore >= ph.p_vaddr && p->semaphore - ph.p_vaddr < ph.p_filesz) {
				p->semaphore_offset = p->semaphore - ph.p_vaddr + ph.p_offset;
				found = 1;
			}
		}
	if (e)
		elf_end(e);
	if (fd >= 0)
		close(fd);
	if (!found)
		return bl_error(-ENOEXEC, "USDT %s:%s: its semaphore 0x%" PRIx64 " is in no loadable "
					  "segment of %s", p->provider, p->name, p->semaphore, p->bin_path);
	return 0;
}

/* A library name ("c", "libc") or a program on $PATH, as a path. */
static int resolve_path(const char *name, int pid, char *out, size_t len)
{
	char *found = NULL;

	if (strchr(name, '/')) {
		if (access(name, R_OK))
			return bl_error(-errno, "USDT: cannot read %s: %s", name, strerror(errno));
		snprintf(out, len, "%s", name);
		return 0;
	}
	found = bcc_procutils_which_so(name, pid > 0 ? pid : 0);
	if (!found && !strncmp(name, "lib", 3))
		found = bcc_procutils_which_so(name + 3, pid > 0 ? pid : 0);
	if (!found)
		found = bcc_procutils_which(name);
	if (!found)
		return bl_error(-ENOENT, "USDT: no binary or library named '%s'", name);
	snprintf(out, len, "%s", found);
	free(found);
	return 0;
}

int bl_usdt_open(const char *path, int pid, struct bl_usdt **out)
{
	struct bl_usdt *u = calloc(1, sizeof(*u));
	int err = 0;

	*out = NULL;
	if (!u)
		return -ENOMEM;
	u->pid = pid;
	if (path) {
		err = resolve_path(path, pid, u->path, sizeof(u->path));
		if (err)
			goto fail;
	} else if (pid <= 0) {
		err = bl_error(-EINVAL, "USDT{} needs a path, a pid, or both");
		goto fail;
	}
	u->ctx = pid > 0 ? bcc_usdt_new_frompid(pid, path ? u->path : NULL) : bcc_usdt_new_frompath(u->path);
	if (!u->ctx) {
		if (pid > 0 && kill(pid, 0))
			err = bl_error(-ESRCH, "USDT: no process %d", pid);
		else
			err = bl_error(-ENOENT, "USDT: cannot read the probes of %s%s", path ? u->path : "process ",
				       path ? "" : "(its mappings)");
		goto fail;
	}
	filling = u;
	fill_err = 0;
	bcc_usdt_foreach(u->ctx, add_probe);
	filling = NULL;
	err = fill_err;
	if (err)
		goto fail;
	for (size_t i = 0; i < u->nprobes && !err; i++)
		if (u->probes[i].semaphore)
			err = semaphore_offset(&u->probes[i]);
	if (err)
		goto fail;
	*out = u;
	return 0;
fail:
	bl_usdt_close(u);
	return err;
}

void bl_usdt_close(struct bl_usdt *u)
{
	if (!u)
		return;
	if (u->ctx)
		bcc_usdt_close(u->ctx);
	for (size_t i = 0; i < u->nprobes; i++) {
		free(u->probes[i].provider);
		free(u->probes[i].name);
		free(u->probes[i].bin_path);
	}
	for (size_t i = 0; i < u->nenabled; i++)
		free(u->enabled[i].fn_name);
	free(u->probes);
	free(u->enabled);
	free(u);
}

int bl_usdt_find(const struct bl_usdt *u, const char *probe, const struct bl_usdt_probe **out)
{
	const char *colon = strchr(probe, ':');
	const char *name = colon ? colon + 1 : probe;
	size_t plen = colon ? (size_t)(colon - probe) : 0;
	const struct bl_usdt_probe *found = NULL;

	for (size_t i = 0; i < u->nprobes; i++) {
		const struct bl_usdt_probe *p = &u->probes[i];

		if (strcmp(p->name, name) || (colon && (strlen(p->provider) != plen ||
							strncmp(p->provider, probe, plen))))
			continue;
		if (found)
			return bl_error(-EINVAL, "USDT probe '%s' is in two providers (%s, %s): say "
						 "PROVIDER:%s", probe, found->provider, p->provider, name);
		found = p;
	}
	if (!found)
		return bl_error(-ENOENT, "no USDT probe '%s' in %s%s", probe, u->path[0] ? u->path : "process",
				u->nprobes ? "" : " (it has no USDT probes at all)");
	*out = found;
	return 0;
}

int bl_usdt_enable(struct bl_usdt *u, const char *probe, const char *fn_name)
{
	const struct bl_usdt_probe *p;
	int err = bl_usdt_find(u, probe, &p);

	if (err)
		return err;
	for (size_t i = 0; i < u->nenabled; i++)
		if (u->enabled[i].probe == p)
			return bl_error(-EEXIST, "USDT probe %s:%s is already enabled (for %s)", p->provider,
					p->name, u->enabled[i].fn_name);
	if (bl_grow((void **)&u->enabled, &u->capenabled, u->nenabled + 1, sizeof(*u->enabled), 4))
		return -ENOMEM;
	u->enabled[u->nenabled].probe = p;
	u->enabled[u->nenabled].fn_name = strdup(fn_name);
	if (!u->enabled[u->nenabled].fn_name)
		return -ENOMEM;
	u->nenabled++;
	return 0;
}

static void ctype(int size, char *out, size_t len)
{
	snprintf(out, len, "%sint%d_t", size < 0 ? "" : "u", (size < 0 ? -size : size) * 8);
}

/* C that stores argument `arg` of location `loc` at *dest (of type dtype). */
static int assign(const struct bl_usdt *u, const struct bl_usdt_probe *p, int loc, int arg,
		  const char *dtype, char *out, size_t len)
{
	struct bcc_usdt_argument a;
	char t[16];

	memset(&a, 0, sizeof(a));
	if (bcc_usdt_get_argument(u->ctx, p->provider, p->name, loc, arg, &a))
		return bl_error(-EINVAL, "USDT %s:%s: cannot parse argument %d", p->provider, p->name, arg);
	ctype(a.size ? a.size : 8, t, sizeof(t));
	if (a.valid & BCC_USDT_ARGUMENT_CONSTANT) {
		snprintf(out, len, "*((%s *)dest) = %lld;", dtype, a.constant);
	} else if (!(a.valid & BCC_USDT_ARGUMENT_BASE_REGISTER_NAME)) {
		return bl_error(-EINVAL, "USDT %s:%s: argument %d has no register", p->provider, p->name, arg);
	} else if (a.valid & BCC_USDT_ARGUMENT_DEREF_IDENT) {
		return bl_error(-EOPNOTSUPP, "USDT %s:%s: argument %d reads the global '%s', which bpflua "
					     "cannot resolve", p->provider, p->name, arg, a.deref_ident);
	} else if (!(a.valid & BCC_USDT_ARGUMENT_DEREF_OFFSET)) {
		if (!strncmp(a.base_register_name, "xmm", 3)) /* BPF cannot read them */
			snprintf(out, len, "*((%s *)dest) = 0;", dtype);
		else /* the barrier keeps LLVM from merging the switch's arms */
			snprintf(out, len, "*((%s *)dest) = (%s)ctx->%s; asm volatile(\"\" ::: \"memory\");",
				 dtype, t, a.base_register_name);
	} else {
		char idx[96] = "";

		if (a.valid & BCC_USDT_ARGUMENT_INDEX_REGISTER_NAME)
			snprintf(idx, sizeof(idx), " + ctx->%s * %d", a.index_register_name,
				 (a.valid & BCC_USDT_ARGUMENT_SCALE) ? a.scale : 1);
		snprintf(out, len, "{ u64 __addr = ctx->%s + (%d)%s; asm volatile(\"\" ::: \"memory\"); "
				   "%s __res = 0; bpf_probe_read_user(&__res, sizeof(__res), (void *)__addr); "
				   "*((%s *)dest) = __res; }",
			 a.base_register_name, a.deref_offset, idx, t, dtype);
	}
	return 0;
}

/* The widest type argument arg has at any location. */
static int arg_type(const struct bl_usdt *u, const struct bl_usdt_probe *p, int arg, char *out, size_t len)
{
	int best = 0;

	for (int l = 0; l < p->nlocations; l++) {
		struct bcc_usdt_argument a;

		memset(&a, 0, sizeof(a));
		if (bcc_usdt_get_argument(u->ctx, p->provider, p->name, l, arg, &a))
			return bl_error(-EINVAL, "USDT %s:%s: cannot parse argument %d", p->provider, p->name, arg);
		if (!a.size)
			a.size = 8;
		if (!best || abs(a.size) > abs(best))
			best = a.size;
	}
	ctype(best ? best : 8, out, len);
	return best < 0;
}

/* Where location l runs, as PT_REGS_IP() sees it, or -1 with *mask when
 * only its page offset is known (a PIE or library without a pid). */
static int runtime_ip(const struct bl_usdt *u, const struct bl_usdt_probe *p, int l, uint64_t *ip)
{
	struct bcc_usdt_location loc;

	if (bcc_usdt_get_location(u->ctx, p->provider, p->name, l, &loc))
		return -EINVAL;
	*ip = loc.address;
	if (!bcc_elf_is_shared_obj(loc.bin_path))
		return 0;
	if (u->pid > 0 && !bcc_resolve_global_addr(u->pid, loc.bin_path, loc.address, 0, ip))
		return 0;
	*ip = loc.address & 0xfff;
	return 1;
}

static int reader(FILE *f, const struct bl_usdt *u, const struct bl_usdt_probe *p, const char *fn, int arg)
{
	char t[16], first[512], other[512];
	int err, same = 1, paged = 0;

	err = arg_type(u, p, arg, t, sizeof(t));
	if (err < 0)
		return err;
	fprintf(f, "static __always_inline int _bpf_readarg_%s_%d(struct pt_regs *ctx, void *dest, size_t len) {\n"
		   "  if (len != sizeof(%s)) return -1;\n", fn, arg + 1, t);
	if ((err = assign(u, p, 0, arg, t, first, sizeof(first))))
		return err;
	for (int l = 1; l < p->nlocations && same; l++) {
		if ((err = assign(u, p, l, arg, t, other, sizeof(other))))
			return err;
		same = !strcmp(first, other);
	}
	if (same) {
		fprintf(f, "  %s\n  return 0;\n}\n", first);
		return 0;
	}
	/* locations read the argument differently: tell them apart by address */
	for (int l = 0; l < p->nlocations; l++) {
		uint64_t ip, other_ip;

		paged |= runtime_ip(u, p, l, &ip) == 1;
		for (int m = 0; paged && m < l; m++)
			if (runtime_ip(u, p, m, &other_ip) >= 0 && other_ip == ip)
				return bl_error(-EINVAL, "USDT %s:%s has %d locations that read argument %d "
							 "differently; give the pid of a process using %s",
						p->provider, p->name, p->nlocations, arg + 1, p->bin_path);
	}
	fprintf(f, "  switch (PT_REGS_IP(ctx)%s) {\n", paged ? " & 0xfff" : "");
	for (int l = 0; l < p->nlocations; l++) {
		uint64_t ip;

		runtime_ip(u, p, l, &ip);
		if ((err = assign(u, p, l, arg, t, other, sizeof(other))))
			return err;
		fprintf(f, "  case 0x%" PRIx64 "ULL: %s return 0;\n", ip, other);
	}
	fprintf(f, "  }\n  return -1;\n}\n");
	return 0;
}

static int readers(FILE *f, const struct bl_usdt *u, const struct bl_usdt_probe *p, const char *fn)
{
	for (int a = 0; a < p->narguments; a++) {
		int err = reader(f, u, p, fn, a);

		if (err)
			return err;
	}
	return 0;
}

static int finish(FILE *f, char **buf, int err)
{
	if (fclose(f) && !err)
		err = -ENOMEM;
	if (err) {
		free(*buf);
		*buf = NULL;
	}
	return err;
}

int bl_usdt_genargs(struct bl_usdt *const *us, size_t n, char **text)
{
	size_t size;
	FILE *f = open_memstream(text, &size);
	int err = 0;

	if (!f)
		return -ENOMEM;
	fputs("#include <uapi/linux/ptrace.h>\n", f);
	for (size_t i = 0; i < n && !err; i++)
		for (size_t j = 0; j < us[i]->nenabled && !err; j++)
			err = readers(f, us[i], us[i]->enabled[j].probe, us[i]->enabled[j].fn_name);
	return finish(f, text, err);
}

int bl_usdt_arg_functions(const struct bl_usdt *u, const struct bl_usdt_probe *p, const char *fn,
			  char **text)
{
	size_t size;
	FILE *f = open_memstream(text, &size);
	int err;

	if (!f)
		return -ENOMEM;
	err = readers(f, u, p, fn);
	for (int a = 0; a < p->narguments && !err; a++) {
		char t[16];
		int is_signed = arg_type(u, p, a, t, sizeof(t));

		if (is_signed < 0) {
			err = is_signed;
			break;
		}
		/* signed arguments widen with their sign, as bpftrace's do */
		fprintf(f, "static __always_inline u64 %s_usdt_arg%d(struct pt_regs *ctx) {\n"
			   "  %s v = 0;\n  _bpf_readarg_%s_%d(ctx, &v, sizeof(v));\n  return (u64)(%s)v;\n}\n",
			fn, a, t, fn, a + 1, is_signed ? "s64" : "u64");
	}
	return finish(f, text, err);
}

int bl_usdt_location_spec(const struct bl_usdt *u, const struct bl_usdt_probe *p, int i,
			  struct bl_attach_spec *spec, char *path, size_t pathlen, char *desc,
			  size_t desclen)
{
	struct bcc_usdt_location loc;

	if (bcc_usdt_get_location(u->ctx, p->provider, p->name, i, &loc))
		return bl_error(-EINVAL, "USDT %s:%s: no location %d", p->provider, p->name, i);
	snprintf(path, pathlen, "%s", loc.bin_path);
	memset(spec, 0, sizeof(*spec));
	spec->target = path;
	spec->addr = loc.address;
	spec->pid = u->pid > 0 ? u->pid : -1;
	spec->cpu = -1;
	if (p->semaphore_offset > UINT32_MAX)
		return bl_error(-E2BIG, "USDT %s:%s: semaphore offset 0x%" PRIx64 " is beyond what the "
					"kernel's uprobe takes", p->provider, p->name, p->semaphore_offset);
	spec->ref_ctr_offset = (uint32_t)p->semaphore_offset;
	snprintf(desc, desclen, "usdt:%s:%s:%s", loc.bin_path, p->provider, p->name);
	spec->desc = desc;
	return 0;
}
