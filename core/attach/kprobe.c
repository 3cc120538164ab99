/* Kprobes and kretprobes. Many kernels are built without them (this
 * project's own CI host among them): say so plainly instead of passing on
 * the errno of a missing kprobe_events file. */
#include <bcc/libbpf.h>
#include <errno.h>
#include <linux/bpf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "attach.h"
#include "../error.h"
#include "../kernel.h"

static int kp_attach(int prog_fd, const struct bl_attach_spec *spec, struct bl_link *link)
{
	const struct bl_features *f = bl_features();
	const char *cfg;
	int pfd;

	if (!f->kprobes) {
		/* the kernel config is read only to explain the failure: it costs a gunzip */
		cfg = bl_kconfig("CONFIG_KPROBES");
		return bl_error(-EOPNOTSUPP,
				"kprobes are not supported by this kernel (CONFIG_KPROBES is %s); cannot "
				"attach %s %s. Use a tracepoint instead (see %s/events)",
				cfg && !strcmp(cfg, "n") ? "not set" : "unavailable",
				spec->retprobe ? "kretprobe" : "kprobe", spec->target,
				*bl_tracefs() ? bl_tracefs() : "/sys/kernel/tracing");
	}
	snprintf(link->ev_name, sizeof(link->ev_name), "%s_bpflua_%d_%s", spec->retprobe ? "r" : "p",
		 (int)getpid(), spec->target);
	snprintf(link->desc, sizeof(link->desc), "%s:%s", spec->retprobe ? "kretprobe" : "kprobe", spec->target);
	pfd = bpf_attach_kprobe(prog_fd, spec->retprobe ? BPF_PROBE_RETURN : BPF_PROBE_ENTRY,
				link->ev_name, spec->target, spec->addr, 0);
	if (pfd < 0)
		return bl_error(-ENOENT, "cannot attach %s (is it a traceable kernel function?)", link->desc);
	/* on failure bl_attach's detach removes the event */
	return bl_link_set_fd(link, pfd);
}

static void kp_detach(struct bl_link *link)
{
	bl_close_fds(link);
	if (link->ev_name[0])
		bpf_detach_kprobe(link->ev_name);
}

const struct bl_provider bl_kprobe_provider = {
	.name = "kprobe",
	.prog_type = BPF_PROG_TYPE_KPROBE,
	.attach = kp_attach,
	.detach = kp_detach,
};
