/* attach: one provider per probe kind, as in ply. Each attach yields an owned
 * link; destroying the link detaches, so nothing outlives its owner. */
#ifndef BPFLUA_ATTACH_H
#define BPFLUA_ATTACH_H

#include <stddef.h>
#include <stdint.h>

struct bl_attach_spec {
	const char *target; /* "cat:name", raw tracepoint, kernel function, or binary */
	const char *sym;    /* uprobe symbol */
	uint64_t addr;      /* uprobe: address or offset added to sym */
	int pid;            /* -1 for every process */
	int cpu;            /* -1 for every online CPU */
	int retprobe;
	uint32_t ev_type, ev_config;
	uint64_t sample_freq, sample_period;
	uint32_t ref_ctr_offset; /* uprobe: file offset of a USDT semaphore, or 0 */
	const char *desc;        /* uprobe: what to call it, instead of path:sym */
	int emulate;             /* uprobe on sym: at the first instruction the kernel
				  * emulates, where those before it only set flags */
};

struct bl_link {
	const struct bl_provider *prov;
	int nfds;
	int *fds;
	int *bpf_links; /* per fd: the BPF link that runs the program on it, or -1 */
	char ev_name[128]; /* legacy uprobe/kprobe event to remove on detach */
	char desc[256];    /* what it is attached to, for messages and listings */
	char key[320];     /* uprobe: "p|r:path:0xoffset:pid", for detach_uprobe */
};

struct bl_provider {
	const char *name;
	int prog_type; /* enum bpf_prog_type its programs are loaded as */
	int (*attach)(int prog_fd, const struct bl_attach_spec *spec, struct bl_link *link);
	void (*detach)(struct bl_link *link);
};

extern const struct bl_provider bl_tracepoint_provider;
extern const struct bl_provider bl_raw_tracepoint_provider;
extern const struct bl_provider bl_perf_event_provider;
extern const struct bl_provider bl_uprobe_provider;
extern const struct bl_provider bl_kprobe_provider;

const struct bl_provider *bl_provider_find(const char *name);

/* Attach prog_fd through prov; on failure the link holds nothing. */
int bl_attach(const struct bl_provider *prov, int prog_fd, const struct bl_attach_spec *spec,
	      struct bl_link *link);
void bl_detach(struct bl_link *link);
/* Detaches n links, last first; their programs are taken off together. */
void bl_detach_all(struct bl_link *links, size_t n);

/* Set at a clean exit: detaching switches events off at once and leaves the
 * slow last close to a child started by bl_detach_finish(). Links with a
 * legacy tracefs event are always detached in full, at once. */
extern int bl_detach_deferred;
void bl_detach_finish(void);

/* Shared by providers: runs prog on the perf event in fd slot i, through a
 * BPF link where the kernel has them (5.15), and enables the event. */
int bl_perf_event_attach_bpf(struct bl_link *link, int i, int prog_fd);
void bl_close_fds(struct bl_link *link);
/* Room for n fds, none open yet; -ENOMEM on failure. */
int bl_link_alloc(struct bl_link *link, int n);
/* Makes fd the link's one fd; on failure closes it and returns -ENOMEM. */
int bl_link_set_fd(struct bl_link *link, int fd);

/* uprobe.c: the binary and file offset a uprobe spec names, and its key */
int bl_uprobe_key(const struct bl_attach_spec *spec, char *key, size_t len);
/* emulated.c: the file offset of sym's first instruction that the kernel
 * emulates, when a probe there sees what one at its entry (off) sees; else off */
uint64_t bl_uprobe_emulated(const char *path, const char *sym, uint64_t off);

#endif
