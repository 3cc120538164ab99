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

/* Detaching a tracepoint or probe waits for the kernel's RCU grace periods:
 * about 60 ms here, longer than everything else bpflua does on a warm start.
 * At a clean exit the events are switched off at once, and the last close
 * happens in a short-lived child, so the user does not wait for it. */
int bl_detach_deferred;
static int *graveyard;
static size_t ngrave, capgrave;

static void bury(int fd)
{
	if (ngrave == capgrave) {
		size_t cap = capgrave ? capgrave * 2 : 16;
		int *g = realloc(graveyard, cap * sizeof(*g));

		if (!g) {
			close(fd);
			return;
		}
		graveyard = g;
		capgrave = cap;
	}
	ioctl(fd, PERF_EVENT_IOC_DISABLE, 0); /* harmless on a BPF link fd */
	graveyard[ngrave++] = fd;
}

void bl_detach_finish(void)
{
	int go[2];
	pid_t pid;

	if (!ngrave)
		return;
	if (pipe(go) == 0) {
		pid = fork();
		if (pid == 0) {
			char c;

			/* not the caller's stdout: a $(bpflua ...) must not wait for us */
			for (int fd = 0; fd < 3; fd++)
				close(fd);
			close(go[1]);
			/* the last reference must be ours: wait until the parent dropped its own */
			while (read(go[0], &c, 1) < 0 && errno == EINTR)
				;
			for (size_t i = 0; i < ngrave; i++)
				close(graveyard[i]);
			_exit(0);
		}
		for (size_t i = 0; pid > 0 && i < ngrave; i++)
			close(graveyard[i]);
		close(go[0]);
		close(go[1]);
	}
	/* on failure the fds close at our own exit, the slow way */
	free(graveyard);
	graveyard = NULL;
	ngrave = capgrave = 0;
}

void bl_close_fds(struct bl_link *link)
{
	for (int i = 0; i < link->nfds; i++)
		if (link->fds[i] < 0)
			continue;
		else if (bl_detach_deferred && !link->ev_name[0])
			bury(link->fds[i]);
		else
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
