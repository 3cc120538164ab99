/* Addresses to names: the kernel through kallsyms, processes through their
 * ELF symbols and perf-PID.map files (libbcc_bpf's symbol cache), and once
 * they have exited through a snapshot of their mappings (maps_snapshot.c). */
#ifndef BPFLUA_SYMBOLS_H
#define BPFLUA_SYMBOLS_H

#include <stddef.h>
#include <stdint.h>

/* Writes "name" (or "name+0xoff" when with_offset) into out; "[unknown]" when
 * nothing resolves. pid < 0 means the kernel. Returns 0 when resolved. */
int bl_sym_resolve(int pid, uint64_t addr, int with_offset, char *out, size_t len);

/* Module (binary or library path) an address lies in, or "" */
int bl_sym_module(int pid, uint64_t addr, char *out, size_t len);

/* Takes (or, when older than max_age_ms, refreshes) the snapshot of pid's
 * mappings that resolves its addresses once it has exited
 * (core/maps_snapshot.c); the mappings kept, or negative errno. Resolving
 * an address of a running process takes one too. */
int bl_sym_snapshot(int pid, unsigned max_age_ms);

/* Drops every cached process symbol table and snapshot. */
void bl_sym_flush(void);

/* Drops the symbol tables of processes that exited or whose pid was reused;
 * returns how many. At most BL_SYM_MAX_CACHES process tables are kept. */
int bl_sym_trim(void);
#define BL_SYM_MAX_CACHES 32

/* Process symbol tables held now */
int bl_sym_cached(void);

/* How bpflua reads a binary's symbols, for resolving and for uprobes alike:
 * functions (and IFUNCs), with separate debug files checked by CRC. */
struct bcc_symbol_option;
const struct bcc_symbol_option *bl_sym_options(void);

/* BPF_STACK_TRACE_BUILDID frames: "name" ("name+0xoff"), else
 * "module+0xoff", else "[buildid HEX+0xoff]". Files are known once added
 * (BCC's add_module) or mapped by pid. Returns 0 when a name resolved. */
struct bpf_stack_build_id;
int bl_sym_buildid(const struct bpf_stack_build_id *frame, int pid, int with_offset, char *out, size_t len);
int bl_sym_add_module(const char *path);

#endif
