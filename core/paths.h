/* Where bpflua keeps and finds things: its cache, its Lua library, probes
 * and tracer scripts. */
#ifndef BPFLUA_PATHS_H
#define BPFLUA_PATHS_H

#include <sys/types.h>

/* $BPFLUA_CACHE_DIR, else $XDG_CACHE_HOME/bpflua, else ~/.cache/bpflua. */
const char *bl_cache_dir(void);

/* mkdir -p with mode for the last component. */
int bl_mkdir_p(const char *path, mode_t mode);

/* The built-in Lua library, probes and scripts: the source tree's copies
 * when run from a build directory, the installed ones otherwise. */
const char *bl_lua_dir(void);
const char *bl_probes_dir(void);
const char *bl_scripts_dir(void);

#endif
