/* Finding a kernel header tree for libbcc, in this order: the running
 * kernel's, /sys/kernel/kheaders.tar.xz, then the nearest installed
 * linux-headers-* tree. Debian splits a tree into `-common` and an arch part;
 * those are merged as a symlink farm inside bpflua's cache directory, the only
 * place this code writes to. */
#ifndef BPFLUA_HEADERS_H
#define BPFLUA_HEADERS_H

#include <limits.h>

enum bl_headers_how {
	BL_HEADERS_ENV,      /* BCC_KERNEL_SOURCE, the user's choice */
	BL_HEADERS_EXACT,    /* the running kernel's own tree */
	BL_HEADERS_KHEADERS, /* /sys/kernel/kheaders.tar.xz */
	BL_HEADERS_NEAREST,  /* another version's tree */
};

struct bl_headers {
	char path[PATH_MAX];    /* the tree to give libbcc (maybe a merged farm) */
	char source[PATH_MAX];  /* where it came from */
	char version[128];      /* the tree's kernel release */
	enum bl_headers_how how;
};

struct bl_headers_opts {
	const char *root;      /* "" normally; a fake root in tests */
	const char *release;   /* the running kernel's release */
	const char *cache_dir; /* where merged trees and extracted archives go */
};

/* Returns 0 and fills out, or -ENOENT with a message naming what to install. */
int bl_headers_find(const struct bl_headers_opts *opts, struct bl_headers *out);

/* Finds the tree once per run for this host, warning on stderr when it is not
 * an exact match. Returns NULL (with bl_last_error) when there is none. */
const struct bl_headers *bl_headers_host(void);

/* How far apart two releases are: 0 for the same major.minor. */
int bl_release_distance(const char *a, const char *b);

#endif
