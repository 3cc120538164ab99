/* USDT probes: found in a binary's (or a process's) ELF notes by libbcc,
 * their argument-reading C generated here, attached as uprobes whose
 * semaphore the kernel counts (uprobe ref_ctr_offset): no process's memory
 * is ever written by us. */
#ifndef BPFLUA_USDT_H
#define BPFLUA_USDT_H

#include <stddef.h>
#include <stdint.h>

#include "attach.h"

struct bl_usdt_probe {
	char *provider, *name, *bin_path;
	uint64_t semaphore;        /* virtual address, 0: none */
	uint64_t semaphore_offset; /* in the file, for the kernel's counter */
	int nlocations, narguments;
};

struct bl_usdt_enabled {
	const struct bl_usdt_probe *probe;
	char *fn_name;
};

struct bl_usdt {
	void *ctx; /* libbcc's USDT context: parsing only, never enable_probe */
	char path[4096];
	int pid;
	struct bl_usdt_probe *probes;
	size_t nprobes, capprobes;
	struct bl_usdt_enabled *enabled;
	size_t nenabled, capenabled;
};

/* path: a binary, a library name, or NULL with a pid (every module the
 * process maps); pid -1 for every process. */
int bl_usdt_open(const char *path, int pid, struct bl_usdt **out);
void bl_usdt_close(struct bl_usdt *u);
/* probe: "name" or "provider:name"; 0 or a negative errno with a message */
int bl_usdt_find(const struct bl_usdt *u, const char *probe, const struct bl_usdt_probe **out);
int bl_usdt_enable(struct bl_usdt *u, const char *probe, const char *fn_name);
/* BCC's _bpf_readarg_FN_N() for every enabled probe of us, malloc'd into *text */
int bl_usdt_genargs(struct bl_usdt *const *us, size_t n, char **text);
/* u64 FN_usdt_argN(ctx) for N < nargs, with BCC's readers under them */
int bl_usdt_arg_functions(const struct bl_usdt *u, const struct bl_usdt_probe *p, const char *fn,
			  char **text);
/* The uprobe spec of location i (addr, target, ref_ctr_offset, desc). */
int bl_usdt_location_spec(const struct bl_usdt *u, const struct bl_usdt_probe *p, int i,
			  struct bl_attach_spec *spec, char *path, size_t pathlen, char *desc,
			  size_t desclen);

#endif
