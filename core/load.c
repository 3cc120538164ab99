#include "load.h"

#include <errno.h>
#include <linux/bpf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "error.h"
#include "kernel.h"
#include "sys.h"

#define LOG_LINES_SHOWN 12

/* Kernel object names: at most 15 characters of [A-Za-z0-9_.]. */
static void object_name(char dst[BPF_OBJ_NAME_LEN], const char *src)
{
	size_t i;

	for (i = 0; i < BPF_OBJ_NAME_LEN - 1 && src[i]; i++)
		dst[i] = (char)((src[i] >= 'a' && src[i] <= 'z') || (src[i] >= 'A' && src[i] <= 'Z') ||
				(src[i] >= '0' && src[i] <= '9') || src[i] == '.' ? src[i] : '_');
	dst[i] = '\0';
}

static int create_map(const struct bl_map_spec *m)
{
	union bpf_attr attr;
	int fd;

	memset(&attr, 0, sizeof(attr));
	attr.map_type = (uint32_t)m->type;
	attr.key_size = m->key_size;
	attr.value_size = m->value_size;
	attr.max_entries = m->max_entries;
	attr.map_flags = m->flags;
	object_name(attr.map_name, m->name);
	fd = (int)bl_sys_bpf(BPF_MAP_CREATE, &attr);
	if (fd < 0 && errno == EINVAL) {
		/* kernels before 4.15 know no names */
		memset(attr.map_name, 0, sizeof(attr.map_name));
		fd = (int)bl_sys_bpf(BPF_MAP_CREATE, &attr);
	}
	return fd < 0 ? -errno : fd;
}

int bl_load_maps(const struct bl_object *obj, int *fds)
{
	size_t i;
	int err = 0;

	for (i = 0; i < obj->nmaps; i++) {
		fds[i] = create_map(&obj->maps[i]);
		if (fds[i] < 0) {
			err = fds[i];
			bl_error(err, "cannot create map %s (type %d, %u entries): %s%s", obj->maps[i].name,
				 obj->maps[i].type, obj->maps[i].max_entries, strerror(-err),
				 err == -EPERM ? bl_privilege_hint() : "");
			goto unwind;
		}
	}
	return 0;
unwind:
	while (i-- > 0) {
		close(fds[i]);
		fds[i] = -1;
	}
	return err;
}

/* The log's last lines say why; the first thousands say how it got there. */
static const char *log_tail(const char *log, int lines)
{
	const char *p = log + strlen(log);

	while (p > log && (p[-1] == '\n' || p[-1] == ' '))
		p--;
	while (p > log && lines > 0) {
		p--;
		if (*p == '\n')
			lines--;
	}
	return p == log ? p : p + 1;
}

static int prog_load(union bpf_attr *attr)
{
	int fd = (int)bl_sys_bpf(BPF_PROG_LOAD, attr);

	if (fd < 0 && errno == EINVAL && attr->prog_name[0] && !attr->log_level) {
		char saved[BPF_OBJ_NAME_LEN];

		memcpy(saved, attr->prog_name, sizeof(saved));
		memset(attr->prog_name, 0, sizeof(attr->prog_name));
		fd = (int)bl_sys_bpf(BPF_PROG_LOAD, attr);
		if (fd < 0)
			memcpy(attr->prog_name, saved, sizeof(saved));
	}
	return fd < 0 ? -errno : fd;
}

int bl_load_prog(const struct bl_object *obj, const int *map_fds, const char *fn,
		 int prog_type, int *prog_fd)
{
	const struct bl_func *f = bl_object_func(obj, fn);
	struct bpf_insn *insns = NULL;
	size_t log_size = 1 << 20;
	char *log = NULL;
	union bpf_attr attr;
	int fd, err;

	*prog_fd = -1;
	if (!f)
		return bl_error(-ENOENT, "no BPF function named '%s' in the program", fn);
	insns = malloc(f->ninsns * sizeof(*insns) + 1);
	if (!insns)
		return -ENOMEM;
	memcpy(insns, f->insns, f->ninsns * sizeof(*insns));
	for (size_t k = 0; k < f->ninsns; k++) {
		if (!bl_insn_is_map_ref(&insns[k]))
			continue;
		if ((size_t)insns[k].imm >= obj->nmaps) {
			err = bl_error(-EINVAL, "function %s: map reference %d out of range", fn, insns[k].imm);
			goto out;
		}
		insns[k].imm = map_fds[insns[k].imm];
		k++;
	}
	memset(&attr, 0, sizeof(attr));
	attr.prog_type = (uint32_t)prog_type;
	attr.insns = (uint64_t)(uintptr_t)insns;
	attr.insn_cnt = (uint32_t)f->ninsns;
	attr.license = (uint64_t)(uintptr_t)obj->license;
	attr.kern_version = obj->kern_version;
	object_name(attr.prog_name, fn);
	fd = prog_load(&attr);
	if (fd >= 0) {
		*prog_fd = fd;
		err = 0;
		goto out;
	}
	err = fd;
	if (err == -EPERM) {
		bl_error(err, "cannot load BPF function %s: %s%s", fn, strerror(-err), bl_privilege_hint());
		goto out;
	}
	/* Load again with the verifier log: only on failure, as the buffer is large. */
	for (;;) {
		free(log);
		log = calloc(1, log_size);
		if (!log) {
			err = -ENOMEM;
			goto out;
		}
		attr.log_level = 1;
		attr.log_buf = (uint64_t)(uintptr_t)log;
		attr.log_size = (uint32_t)log_size;
		fd = prog_load(&attr);
		if (fd >= 0) { /* passed the second time: nothing to explain */
			*prog_fd = fd;
			err = 0;
			goto out;
		}
		if (errno != ENOSPC || log_size >= (1u << 30))
			break;
		log_size <<= 2;
	}
	if (!log[0])
		bl_error(err, "cannot load BPF function %s: %s", fn, strerror(-err));
	else if (bl_verbose_level)
		bl_error(err, "the BPF verifier rejected %s (%s); its log:\n%s", fn, strerror(-err), log);
	else
		bl_error(err, "the BPF verifier rejected %s (%s); the log ends:\n%s\n(--verbose shows all of it)",
			 fn, strerror(-err), log_tail(log, LOG_LINES_SHOWN));
out:
	free(log);
	free(insns);
	return err;
}

