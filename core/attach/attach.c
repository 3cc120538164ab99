#include "attach.h"

#include <errno.h>
#include <linux/perf_event.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

static const struct bl_provider *const providers[] = {
	&bl_tracepoint_provider, &bl_raw_tracepoint_provider, &bl_perf_event_provider,
	&bl_uprobe_provider,     &bl_kprobe_provider,
};

const struct bl_provider *bl_provider_find(const char *name)
{
	for (size_t i = 0; i < sizeof(providers) / sizeof(providers[0]); i++)
		if (!strcmp(providers[i]->name, name))
			return providers[i];
	return NULL;
}

int bl_attach(const struct bl_provider *prov, int prog_fd, const struct bl_attach_spec *spec,
	      struct bl_link *link)
{
	int err;

	memset(link, 0, sizeof(*link));
	link->prov = prov;
	err = prov->attach(prog_fd, spec, link);
	if (err) {
		bl_detach(link);
		memset(link, 0, sizeof(*link));
	}
	return err;
}

void bl_detach(struct bl_link *link)
{
	if (!link->prov)
		return;
	if (link->prov->detach)
		link->prov->detach(link);
	else
		bl_close_fds(link);
	link->prov = NULL;
}

void bl_close_fds(struct bl_link *link)
{
	for (int i = 0; i < link->nfds; i++)
		if (link->fds[i] >= 0)
			close(link->fds[i]);
	free(link->fds);
	link->fds = NULL;
	link->nfds = 0;
}

int bl_perf_event_attach_bpf(int pfd, int prog_fd)
{
	if (ioctl(pfd, PERF_EVENT_IOC_SET_BPF, prog_fd) < 0)
		return -errno;
	if (ioctl(pfd, PERF_EVENT_IOC_ENABLE, 0) < 0)
		return -errno;
	return 0;
}

int bl_link_set_fd(struct bl_link *link, int fd)
{
	link->fds = malloc(sizeof(int));
	if (!link->fds) {
		close(fd);
		return -ENOMEM;
	}
	link->fds[0] = fd;
	link->nfds = 1;
	return 0;
}
