/* The compiled-program cache: what libbcc compiled once loads again without
 * libbcc or LLVM. Entries live in CACHE_DIR/programs, one file per key.
 *
 * What is in it is loaded into the kernel as root, so: the cache directory
 * and programs/ are the effective user's, and refused if anyone else may
 * write to them or could replace them (bl_private_dir); an entry is refused
 * unless it is a regular file of ours that nobody else may write, and its
 * checksum, which covers its key, matches. A refused entry is removed and the
 * program recompiled. */
#ifndef BPFLUA_CACHE_H
#define BPFLUA_CACHE_H

#include <stddef.h>
#include <time.h>

#include "compile.h"
#include "headers.h"
#include "object.h"

#define BL_CACHE_KEY_HEX 65

/* Everything that changes what the compiler makes: the text, the cflags,
 * libbcc's file, the kernel release and build, the header tree, and the
 * formats of the tracepoints the text names. */
int bl_cache_key(const struct bl_compile_opts *co, const struct bl_headers *h, char key[BL_CACHE_KEY_HEX]);

/* 0 and *out on a hit; -ENOENT on a miss; another negative errno when an
 * entry was there and refused (bl_last_error says why; the entry is gone). */
int bl_cache_get(const char *key, struct bl_object **out);

/* Stores under a temporary name and renames: a reader never sees half. */
int bl_cache_put(const char *key, const struct bl_object *obj);

/* The programs directory, created 0700 and checked with the cache directory
 * (bl_private_dir); NULL, with a warning saying why, when refused. */
const char *bl_cache_programs_dir(void);

/* Where the programs directory is, made and checked or not. */
const char *bl_cache_programs_path(void);

struct bl_cache_entry {
	char key[BL_CACHE_KEY_HEX];
	size_t size;
	time_t mtime;
};

/* Calls fn for each entry; returns the count or negative errno. */
int bl_cache_list(void (*fn)(const struct bl_cache_entry *e, void *arg), void *arg);

/* Removes every entry; returns how many. */
int bl_cache_clear(void);

/* The compile stage: from the cache when it holds the program, else from
 * libbcc in a child process (the result is stored for next time). */
int bl_cache_compile(const struct bl_compile_opts *co, const struct bl_headers *h, int use_cache,
		     struct bl_object **out);

/* Hit and miss counts of this process, for tests and --verbose. */
extern int bl_cache_hits, bl_cache_misses;

/* --no-cache and BPFLUA_NO_CACHE=1 turn it off */
extern int bl_cache_enabled;

#endif
