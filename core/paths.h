/* Where bpflua keeps and finds things: its cache, its Lua library, probes
 * and tracer scripts. */
#ifndef BPFLUA_PATHS_H
#define BPFLUA_PATHS_H

#include <sys/types.h>

/* $BPFLUA_CACHE_DIR, else $XDG_CACHE_HOME/bpflua, else ~/.cache/bpflua. */
const char *bl_cache_dir(void);

/* mkdir -p with mode for the last component; the directories it creates get
 * their modes exactly (0755 above, mode last), whatever the umask. */
int bl_mkdir_p(const char *path, mode_t mode);

/* What bpflua reads back from its cache is compiled or loaded as root, so a
 * cache directory must be private: a directory (made 0700 when create is set
 * and it is missing) owned by the effective user and writable by nobody else,
 * below directories only root or the effective user may change, unless they
 * are sticky like /tmp (OpenSSH's rule for ~/.ssh). Symbolic links on the way
 * are followed and both chains checked. Returns 0, or a negative errno with
 * bl_last_error naming the directory and what is wrong (-ENOENT: missing). */
int bl_private_dir(const char *dir, int create);

/* The built-in Lua library, probes and scripts: the source tree's copies
 * when run from a build directory, the installed ones otherwise. */
const char *bl_lua_dir(void);
const char *bl_probes_dir(void);
const char *bl_scripts_dir(void);

#endif
