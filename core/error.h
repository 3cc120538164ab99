/* One place that remembers why the last call failed.
 *
 * Core functions return negative errno, as libbpf does; the message that a
 * human needs (which tracepoint, which file, what the compiler said) is kept
 * here so the CLI or the Lua binding can show it without each layer passing
 * strings around. */
#ifndef BPFLUA_ERROR_H
#define BPFLUA_ERROR_H

#include <stddef.h>

/* Sets the message and returns err, so callers can write
 * `return bl_error(-ENOENT, "no tracepoint %s", name);` */
int bl_error(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
const char *bl_last_error(void);
/* The negative errno that went with the last message (0: none) */
int bl_last_errno(void);
void bl_clear_error(void);

/* Warnings go to stderr, once per distinct text, prefixed with the program name. */
void bl_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* When set, bl_verbose() prints; `--verbose` turns it on. */
extern int bl_verbose_level;
void bl_verbose(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
