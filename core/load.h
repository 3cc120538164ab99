/* load: struct bl_object -> kernel maps and programs, with libbcc_bpf's
 * view of the world (no LLVM). The same path serves a fresh compile and a
 * cache hit. */
#ifndef BPFLUA_LOAD_H
#define BPFLUA_LOAD_H

#include "object.h"

/* Creates every map of obj; fds[i] receives map i's fd. On failure no map is
 * left open. */
int bl_load_maps(const struct bl_object *obj, int *fds);

/* Loads function fn as prog_type, patching map indexes into map_fds. On a
 * verifier rejection, bl_last_error() ends with the log's last lines (all of
 * it with --verbose). */
int bl_load_prog(const struct bl_object *obj, const int *map_fds, const char *fn,
		 int prog_type, int *prog_fd);

#endif
