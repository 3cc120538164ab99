/* Syscall numbers and names of this architecture, generated at build time
 * from the C library's <asm/unistd.h>, so no kernel headers are needed. */
#ifndef BPFLUA_SYSCALLS_H
#define BPFLUA_SYSCALLS_H

const char *bl_syscall_name(int nr);
int bl_syscall_number(const char *name);

#endif
