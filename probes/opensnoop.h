/* Shared by probes/opensnoop.c and scripts/opensnoop.lua (probe.constants). */
#define OPENSNOOP_PATHSIZE 256 /* bytes of a path kept, with its NUL */
