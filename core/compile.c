#include "compile.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "error.h"

#ifdef BPFLUA_LIBBCC
#define LIBBCC_SONAME BPFLUA_LIBBCC
#else
#define LIBBCC_SONAME "libbcc.so.0"
#endif

/* The slice of libbcc's C API that compiling needs. */
static struct {
	void *handle;
	void *(*create)(const char *, unsigned, const char *[], int, _Bool, const char *);
	void (*destroy)(void *);
	char *(*license)(void *);
	unsigned (*kern_version)(void *);
	size_t (*num_functions)(void *);
	const char *(*function_name)(void *, size_t);
	void *(*function_start_id)(void *, size_t);
	size_t (*function_size_id)(void *, size_t);
	size_t (*num_tables)(void *);
	const char *(*table_name)(void *, size_t);
	int (*table_fd_id)(void *, size_t);
	int (*table_type_id)(void *, size_t);
	size_t (*table_max_entries_id)(void *, size_t);
	int (*table_flags_id)(void *, size_t);
	const char *(*table_key_desc_id)(void *, size_t);
	const char *(*table_leaf_desc_id)(void *, size_t);
	size_t (*table_key_size_id)(void *, size_t);
	size_t (*table_leaf_size_id)(void *, size_t);
	size_t (*perf_event_fields)(void *, const char *);
	const char *(*perf_event_field)(void *, const char *, size_t);
} bcc;

static int open_libbcc(void)
{
	void *h;

	if (bcc.handle)
		return 0;
	h = dlopen(LIBBCC_SONAME, RTLD_NOW | RTLD_LOCAL);
	if (!h)
		return bl_error(-ENOENT, "cannot load the BPF compiler (%s): %s; install libbpfcc",
				LIBBCC_SONAME, dlerror());
#define SYM(field, name)                                                           \
	do {                                                                       \
		*(void **)&bcc.field = dlsym(h, name);                             \
		if (!bcc.field) {                                                  \
			dlclose(h);                                                \
			return bl_error(-ENOENT, "%s lacks %s", LIBBCC_SONAME, name); \
		}                                                                  \
	} while (0)
	SYM(create, "bpf_module_create_c_from_string");
	SYM(destroy, "bpf_module_destroy");
	SYM(license, "bpf_module_license");
	SYM(kern_version, "bpf_module_kern_version");
	SYM(num_functions, "bpf_num_functions");
	SYM(function_name, "bpf_function_name");
	SYM(function_start_id, "bpf_function_start_id");
	SYM(function_size_id, "bpf_function_size_id");
	SYM(num_tables, "bpf_num_tables");
	SYM(table_name, "bpf_table_name");
	SYM(table_fd_id, "bpf_table_fd_id");
	SYM(table_type_id, "bpf_table_type_id");
	SYM(table_max_entries_id, "bpf_table_max_entries_id");
	SYM(table_flags_id, "bpf_table_flags_id");
	SYM(table_key_desc_id, "bpf_table_key_desc_id");
	SYM(table_leaf_desc_id, "bpf_table_leaf_desc_id");
	SYM(table_key_size_id, "bpf_table_key_size_id");
	SYM(table_leaf_size_id, "bpf_table_leaf_size_id");
	SYM(perf_event_fields, "bpf_perf_event_fields");
	SYM(perf_event_field, "bpf_perf_event_field");
#undef SYM
	bcc.handle = h;
	return 0;
}

/* libbcc prints clang's diagnostics straight to fd 2 (and a few notes to
 * fd 1). Catch both in a memfd for the duration of the compile, so they can
 * become the error message instead of noise on the terminal. */
struct capture {
	int fd, saved_out, saved_err;
};

static struct capture *active; /* the capture of the compile in progress */

static int capture_start(struct capture *c)
{
	fflush(stdout);
	fflush(stderr);
	c->fd = memfd_create("bpflua-compile", MFD_CLOEXEC);
	if (c->fd < 0)
		return -errno;
	c->saved_out = dup(1);
	c->saved_err = dup(2);
	if (c->saved_out < 0 || c->saved_err < 0) {
		int err = -errno;

		close(c->fd);
		if (c->saved_out >= 0)
			close(c->saved_out);
		if (c->saved_err >= 0)
			close(c->saved_err);
		return err;
	}
	dup2(c->fd, 1);
	dup2(c->fd, 2);
	active = c;
	return 0;
}

/* Restores fds 1 and 2 and returns what was written (malloc'd, may be ""). */
static char *capture_end(struct capture *c)
{
	char *buf = NULL;
	off_t len;

	active = NULL;
	fflush(stdout);
	fflush(stderr);
	dup2(c->saved_out, 1);
	dup2(c->saved_err, 2);
	close(c->saved_out);
	close(c->saved_err);
	len = lseek(c->fd, 0, SEEK_END);
	if (len >= 0)
		buf = malloc((size_t)len + 1);
	if (buf) {
		ssize_t n = pread(c->fd, buf, (size_t)len, 0);

		buf[n > 0 ? n : 0] = '\0';
	}
	close(c->fd);
	return buf;
}

char *bl_compile_abandoned_output(void)
{
	return active ? capture_end(active) : NULL;
}

static char *dup_or_null(const char *s)
{
	return s && *s ? strdup(s) : NULL;
}

/* Copies the maps' specs and which fd each one had in the module, so that the
 * instructions' fd immediates can be turned into map indexes. */
static int copy_maps(void *mod, struct bl_object *obj, int **fds)
{
	size_t n = bcc.num_tables(mod);

	obj->maps = calloc(n ? n : 1, sizeof(*obj->maps));
	*fds = calloc(n ? n : 1, sizeof(int));
	if (!obj->maps || !*fds)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		struct bl_map_spec *m = &obj->maps[i];
		size_t nf;

		obj->nmaps = i + 1;
		m->name = strdup(bcc.table_name(mod, i));
		m->type = bcc.table_type_id(mod, i);
		m->key_size = (uint32_t)bcc.table_key_size_id(mod, i);
		m->value_size = (uint32_t)bcc.table_leaf_size_id(mod, i);
		m->max_entries = (uint32_t)bcc.table_max_entries_id(mod, i);
		m->flags = (uint32_t)bcc.table_flags_id(mod, i);
		m->key_desc = dup_or_null(bcc.table_key_desc_id(mod, i));
		m->leaf_desc = dup_or_null(bcc.table_leaf_desc_id(mod, i));
		(*fds)[i] = bcc.table_fd_id(mod, i);
		if (!m->name)
			return -ENOMEM;
		nf = bcc.perf_event_fields(mod, m->name);
		if (!nf)
			continue;
		m->event_fields = calloc(nf, sizeof(char *));
		if (!m->event_fields)
			return -ENOMEM;
		for (size_t f = 0; f < nf; f++) {
			m->event_fields[f] = strdup(bcc.perf_event_field(mod, m->name, f));
			m->nevent_fields = f + 1;
			if (!m->event_fields[f])
				return -ENOMEM;
		}
	}
	return 0;
}

static int copy_funcs(void *mod, struct bl_object *obj, const int *fds)
{
	size_t n = bcc.num_functions(mod);

	obj->funcs = calloc(n ? n : 1, sizeof(*obj->funcs));
	if (!obj->funcs)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		struct bl_func *f = &obj->funcs[i];
		size_t bytes = bcc.function_size_id(mod, i);

		obj->nfuncs = i + 1;
		f->name = strdup(bcc.function_name(mod, i));
		f->insns = malloc(bytes ? bytes : 1);
		if (!f->name || !f->insns)
			return -ENOMEM;
		memcpy(f->insns, bcc.function_start_id(mod, i), bytes);
		f->ninsns = bytes / sizeof(struct bpf_insn);
		for (size_t k = 0; k < f->ninsns; k++) {
			struct bpf_insn *in = &f->insns[k];
			size_t m;

			if (!bl_insn_is_map_ref(in))
				continue;
			for (m = 0; m < obj->nmaps; m++)
				if (fds[m] == in->imm)
					break;
			if (m == obj->nmaps)
				return bl_error(-EINVAL, "function %s refers to a map that is not its own (fd %d)",
						f->name, in->imm);
			in->imm = (int32_t)m;
			k++; /* the second half of the 16-byte load */
		}
	}
	return 0;
}

int bl_compile(const struct bl_compile_opts *opts, struct bl_object **out)
{
	struct bl_object *obj = NULL;
	struct capture cap = { -1, -1, -1 };
	char *msgs = NULL;
	void *mod;
	int *fds = NULL;
	int err;

	*out = NULL;
	err = open_libbcc();
	if (err)
		return err;
	if (opts->kernel_source)
		setenv("BCC_KERNEL_SOURCE", opts->kernel_source, 1);
	err = capture_start(&cap);
	if (err)
		return bl_error(err, "cannot capture compiler output: %s", strerror(-err));
	mod = bcc.create(opts->text, 0, (const char **)opts->cflags, opts->ncflags, 1, NULL);
	msgs = capture_end(&cap);
	if (!mod) {
		err = bl_error(-EINVAL, "BPF program failed to compile:\n%s",
			       msgs && *msgs ? msgs : "(libbcc gave no reason)\n");
		goto out;
	}
	if (msgs && *msgs)
		bl_verbose("compiler said:\n%s", msgs);
	obj = calloc(1, sizeof(*obj));
	if (!obj) {
		err = -ENOMEM;
		goto out_mod;
	}
	obj->license = strdup(bcc.license(mod) ? bcc.license(mod) : "GPL");
	obj->kern_version = bcc.kern_version(mod);
	err = obj->license ? 0 : -ENOMEM;
	err = err ? err : copy_maps(mod, obj, &fds);
	err = err ? err : copy_funcs(mod, obj, fds);
	if (err) {
		bl_object_free(obj);
		obj = NULL;
		if (err == -ENOMEM)
			bl_error(err, "out of memory copying the compiled program");
	}
out_mod:
	/* Closes the module's own maps: load creates fresh ones from the specs,
	 * the same way a cached object is loaded. */
	bcc.destroy(mod);
out:
	free(fds);
	free(msgs);
	*out = obj;
	return err;
}
