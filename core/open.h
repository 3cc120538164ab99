/* open: the pipeline's front half in one call, as ply_load or libbpf's
 * bpf_object__load are: check that BPF works here, find the kernel header
 * tree, compile through the cache, create the maps. The Lua binding's BPF{}
 * is this plus auto-attach. */
#ifndef BPFLUA_OPEN_H
#define BPFLUA_OPEN_H

#include "compile.h"
#include "object.h"

/* Fills co->kernel_source, compiles co (through the cache unless use_cache
 * is 0) and creates the maps: *obj and *map_fds (one fd per map) are the
 * caller's to free, with bl_object_close. Negative errno and bl_last_error()
 * on failure, with nothing left open. */
int bl_object_open(struct bl_compile_opts *co, int use_cache, struct bl_object **obj, int **map_fds);

/* Closes the map fds and frees the object (either may be NULL). */
void bl_object_close(struct bl_object *obj, int *map_fds);

#endif
