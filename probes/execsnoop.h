/* Shared by probes/execsnoop.c and scripts/execsnoop.lua (probe.constants). */
#define EXECSNOOP_MAXARG 20   /* strings kept per exec: the file name and argv[1..] */
#define EXECSNOOP_ARGSIZE 128 /* bytes per string, with its NUL */
