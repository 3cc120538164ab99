/* Shared by probes/offcputime.c and scripts/offcputime.lua (probe.constants). */
#define OFFCPU_PREEMPTED 0x10000000 /* left the CPU still runnable */
#define OFFCPU_UNKNOWN 0x20000000   /* a kernel that does not pass prev_state */
