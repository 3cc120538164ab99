/* Perf events (sampling): one event per CPU, each running the program. */
#include <errno.h>
#include <linux/bpf.h>
#include <linux/perf_event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "attach.h"
#include "../error.h"
#include "../kernel.h"
#include "../sys.h"

static int pe_attach(int prog_fd, const struct bl_attach_spec *spec, struct bl_link *link)
{
	const int *cpus = &spec->cpu;
	int ncpu = 1;

	if (spec->cpu < 0) {
		ncpu = bl_online_cpus(&cpus);
		if (ncpu <= 0)
			return bl_error(-EIO, "cannot read the online CPUs");
	}
	if (bl_link_alloc(link, ncpu))
		return -ENOMEM;
	snprintf(link->desc, sizeof(link->desc), "perf_event:%u:%u", spec->ev_type, spec->ev_config);
	for (int i = 0; i < ncpu; i++) {
		struct perf_event_attr attr;
		int pfd, err;

		memset(&attr, 0, sizeof(attr));
		attr.size = sizeof(attr);
		attr.type = spec->ev_type;
		attr.config = spec->ev_config;
		if (spec->sample_freq) {
			attr.freq = 1;
			attr.sample_freq = spec->sample_freq;
		} else {
			attr.sample_period = spec->sample_period ? spec->sample_period : 1;
		}
		pfd = bl_sys_perf_event_open(&attr, spec->pid, cpus[i]);
		if (pfd < 0) {
			err = -errno;
			return bl_error(err, "cannot open perf event type %u config %u on CPU %d: %s%s",
					spec->ev_type, spec->ev_config, cpus[i], strerror(-err),
					err == -EACCES || err == -EPERM ? bl_privilege_hint()
					: err == -ENOENT || err == -EOPNOTSUPP ? " (this event is not supported here)" : "");
		}
		link->fds[link->nfds++] = pfd;
		err = bl_perf_event_attach_bpf(link, link->nfds - 1, prog_fd);
		if (err)
			return bl_error(err, "cannot attach to perf event on CPU %d: %s", cpus[i], strerror(-err));
	}
	return 0;
}

const struct bl_provider bl_perf_event_provider = {
	.name = "perf_event",
	.prog_type = BPF_PROG_TYPE_PERF_EVENT,
	.attach = pe_attach,
};
