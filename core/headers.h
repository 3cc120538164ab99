/* Finding a kernel header tree for libbcc, in this order: the running
 * kernel's, /sys/kernel/kheaders.tar.xz, then the nearest installed
 * linux-headers-* tree. A tree is usable when it has what compiling BPF C
 * reads: include/linux/kconfig.h, include/generated/autoconf.h and
 * arch/ARCH/include{,/generated}; nothing else (scripts, tools) matters.
 *
 * Debian splits a tree into `-common` and an arch part; those are merged as a
 * symlink farm, and kheaders archives extracted, into CACHE/headers/NAME,
 * where NAME carries a hash of what the tree was made from. A tree there is
 * built under a private name and published with one rename, never replaced or
 * removed (a concurrent run may be compiling against it), and used only when
 * it, every file in it and the directories above it pass bl_private_dir's
 * rule. When they do not, or with no cache, trees are made in a private
 * temporary directory removed at exit. */
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
	char id[PATH_MAX];      /* what the tree was made from: path, or farm name */
	char rejected[1024];    /* the running kernel's trees that were unusable, and why */
	enum bl_headers_how how;
};

struct bl_headers_opts {
	const char *root;      /* "" normally; a fake root in tests */
	const char *release;   /* the running kernel's release */
	const char *cache_dir; /* where merged trees and extracted archives go; NULL: nowhere lasting */
};

/* Returns 0 and fills out, or -ENOENT with a message naming the rejected
 * trees and what they lack, or what to install. */
int bl_headers_find(const struct bl_headers_opts *opts, struct bl_headers *out);

/* Finds the tree once per run for this host, warning on stderr when it is not
 * an exact match. Returns NULL (with bl_last_error) when there is none. */
const struct bl_headers *bl_headers_host(void);

/* Removes this run's private tree directory, if it made one (also at exit(),
 * but bpflua leaves through _exit). */
void bl_headers_cleanup(void);

/* Why the running kernel's own trees were rejected, for doctor; "" if not. */
const char *bl_headers_rejected(void);

/* The kernel's name for this machine's architecture: x86, arm64, ... */
const char *bl_headers_arch(void);

/* How far apart two releases are: 0 for the same major.minor. */
int bl_release_distance(const char *a, const char *b);

#endif
