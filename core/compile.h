/* compile: BPF C text -> struct bl_object, through libbcc and LLVM.
 *
 * compile.c is the only file that touches libbcc's compiler: libbcc.so (and
 * with it libLLVM) is opened with dlopen on the first compile. bpflua calls
 * it only from compile_child.c's child process, so the tracer itself never
 * maps LLVM, on a cache miss either. */
#ifndef BPFLUA_COMPILE_H
#define BPFLUA_COMPILE_H

#include "object.h"

struct bl_compile_opts {
	const char *text;
	const char *const *cflags;
	int ncflags;
	/* Header tree for libbcc (BCC_KERNEL_SOURCE); NULL lets libbcc look. */
	const char *kernel_source;
};

/* On failure returns negative errno; bl_last_error() holds the compiler's
 * messages. On success, clang's warnings are printed only with --verbose. */
int bl_compile(const struct bl_compile_opts *opts, struct bl_object **out);

/* What a compile in progress had printed when LLVM ends the process with
 * exit() halfway (report_fatal_error: the BPF stack limit, and others): fds
 * 1 and 2 given back, the text malloc'd; NULL when no compile is running.
 * For an atexit handler of the compiling process. */
char *bl_compile_abandoned_output(void);

/* The same, with libbcc and LLVM in a child process that exits after the
 * compile: the caller never maps them. */
int bl_compile_in_child(const struct bl_compile_opts *opts, struct bl_object **out);

#endif
