/* What a process mapped, kept past its exit: its executable file mappings
 * (read from /proc/PID/maps while it runs) and the files themselves, held
 * open, so that its stacks still resolve once /proc/PID is gone. Symbols are
 * read from a file (libbcc's ELF reader) only when a gone process needs
 * them, and shared by every snapshot that maps the same file. */
#ifndef BPFLUA_MAPS_SNAPSHOT_H
#define BPFLUA_MAPS_SNAPSHOT_H

#include <stddef.h>
#include <stdint.h>

/* Bounds: the processes most recently seen (least recently used out first),
 * executable mappings kept per process, files held open (shared), and the
 * bytes of symbol tables read from them (re-read when needed again). */
#define BL_SNAP_MAX_PIDS 256
#define BL_SNAP_MAX_MAPPINGS 512
#define BL_SNAP_MAX_FILES 128
#define BL_SNAP_MAX_SYMBOL_BYTES (64u << 20)

/* Field 22 of /proc/PID/stat, the start time that tells a pid's process
 * from a later one of the same pid; 0 when there is no such process. */
unsigned long long bl_proc_start_time(int pid);

/* Takes a snapshot of pid's mappings, or adds what it mapped since the last
 * one (older mappings stay, unless a new one covers them: stacks taken
 * before a dlclose or exec still resolve) when that was more than
 * max_age_ms ago. Returns the mappings kept, or negative errno (-ESRCH: no
 * such process). */
int bl_snap_take(int pid, unsigned max_age_ms);

/* bl_snap_take() for pid and the processes it started, and theirs (as
 * their main threads' children), at most max_procs in all: what a command
 * run through a shell or a build runs. Returns the processes taken. */
int bl_snap_take_tree(int pid, unsigned max_age_ms, int max_procs);

/* Whether the process pid's snapshot describes still runs: 0 it does, 1 it
 * exited, 2 the pid now names another process, -ENOENT without a snapshot.
 * /proc is read at most every 10 ms per snapshot. */
int bl_snap_gone(int pid);

/* Resolves addr in pid's snapshot: 0 and the function's name (and the
 * offset into it); -ENOENT without a snapshot or mapping, -ENODATA when the
 * file has no symbol there. module gets the mapped file's path when the
 * address lies in one ("" otherwise); either buffer may be NULL. */
int bl_snap_resolve(int pid, uint64_t addr, char *name, size_t len, uint64_t *offset, char *module, size_t mlen);

/* Snapshots and files held now */
int bl_snap_count(void);
int bl_snap_files(void);

/* Drops pid's snapshot; every snapshot and file when pid < 0 */
void bl_snap_drop(int pid);

#endif
