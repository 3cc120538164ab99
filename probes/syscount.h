/* Shared by probes/syscount.c and scripts/syscount.lua (probe.constants). */
#define HIST_SLOTS 32 /* log2 usecs: up to an hour */
