#include "attach.h"
#include "../grow.h"
#include "../sys.h"

#include <errno.h>
#include <linux/bpf.h>
#include <linux/perf_event.h>
#include <pthread.h>
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

/* Taking a program off a tracepoint or probe costs two waits in the kernel,
 * 60-70 ms per event here:
 *  - closing its BPF link waits for an RCU grace period (tasks trace), with
 *    no lock held: links closed from several threads share their waits;
 *  - closing the last perf event of a tracepoint waits again, for each
 *    event in turn, under the kernel's event_mutex, however many threads
 *    close them (kernel/trace/trace_event_perf.c, as of 6.18).
 * Measured on 360 syscall tracepoints: 26 s closing one fd after another;
 * 0.9 s to close their links from 16 threads, then 12 s more for the events.
 * So the links go first, together (bl_detach_all), which is the detach
 * proper: no program of ours runs after it. At a clean exit the events,
 * switched off and without a program, are closed by a short-lived child,
 * so the user does not wait for the kernel's turn-by-turn unregistering. */
int bl_detach_deferred;
static int *graveyard;
static size_t ngrave, capgrave;

static void bury(int fd)
{
	if (bl_grow((void **)&graveyard, &capgrave, ngrave + 1, sizeof(*graveyard), 16)) {
		close(fd);
		return;
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
	for (int i = 0; link->bpf_links && i < link->nfds; i++)
		if (link->bpf_links[i] >= 0)
			close(link->bpf_links[i]);
	for (int i = 0; i < link->nfds; i++)
		if (link->fds[i] < 0)
			continue;
		else if (bl_detach_deferred && !link->ev_name[0])
			bury(link->fds[i]);
		else
			close(link->fds[i]);
	free(link->fds);
	free(link->bpf_links);
	link->fds = NULL;
	link->bpf_links = NULL;
	link->nfds = 0;
}

#define CLOSERS 16

struct closer {
	int *fds;
	size_t n, next;
	pthread_mutex_t lock;
};

static void *close_some(void *arg)
{
	struct closer *c = arg;

	for (;;) {
		size_t i;

		pthread_mutex_lock(&c->lock);
		i = c->next++;
		pthread_mutex_unlock(&c->lock);
		if (i >= c->n)
			return NULL;
		close(c->fds[i]);
	}
}

/* Closes fds from up to CLOSERS threads, so their grace periods overlap;
 * whatever a thread cannot be started for, this one closes. */
static void close_together(int *fds, size_t n)
{
	struct closer c = { .fds = fds, .n = n };
	pthread_t threads[CLOSERS];
	size_t started = 0;

	pthread_mutex_init(&c.lock, NULL);
	while (n > 1 && started < CLOSERS && started < n &&
	       pthread_create(&threads[started], NULL, close_some, &c) == 0)
		started++;
	close_some(&c);
	for (size_t i = 0; i < started; i++)
		pthread_join(threads[i], NULL);
	pthread_mutex_destroy(&c.lock);
}

void bl_detach_all(struct bl_link *links, size_t n)
{
	size_t count = 0, k = 0;
	int *fds;

	for (size_t i = 0; i < n; i++)
		for (int j = 0; links[i].prov && links[i].bpf_links && j < links[i].nfds; j++)
			count += links[i].bpf_links[j] >= 0;
	fds = count > 1 ? malloc(count * sizeof(int)) : NULL;
	if (fds) {
		for (size_t i = 0; i < n; i++)
			for (int j = 0; links[i].prov && links[i].bpf_links && j < links[i].nfds; j++)
				if (links[i].bpf_links[j] >= 0) {
					fds[k++] = links[i].bpf_links[j];
					links[i].bpf_links[j] = -1;
				}
		close_together(fds, k);
		free(fds);
	}
	for (size_t i = n; i-- > 0;)
		bl_detach(&links[i]);
}

int bl_perf_event_attach_bpf(struct bl_link *link, int i, int prog_fd)
{
	union bpf_attr attr;
	int fd;

	memset(&attr, 0, sizeof(attr));
	attr.link_create.prog_fd = (uint32_t)prog_fd;
	attr.link_create.target_fd = (uint32_t)link->fds[i];
	attr.link_create.attach_type = BPF_PERF_EVENT;
	fd = (int)bl_sys_bpf(BPF_LINK_CREATE, &attr);
	if (fd >= 0)
		link->bpf_links[i] = fd;
	else if (ioctl(link->fds[i], PERF_EVENT_IOC_SET_BPF, prog_fd) < 0) /* before 5.15 */
		return -errno;
	if (ioctl(link->fds[i], PERF_EVENT_IOC_ENABLE, 0) < 0)
		return -errno;
	return 0;
}

int bl_link_alloc(struct bl_link *link, int n)
{
	link->fds = malloc(sizeof(int) * (size_t)n);
	link->bpf_links = malloc(sizeof(int) * (size_t)n);
	if (!link->fds || !link->bpf_links) {
		free(link->fds);
		free(link->bpf_links);
		link->fds = link->bpf_links = NULL;
		return -ENOMEM;
	}
	for (int i = 0; i < n; i++)
		link->fds[i] = link->bpf_links[i] = -1;
	link->nfds = 0;
	return 0;
}

int bl_link_set_fd(struct bl_link *link, int fd)
{
	if (bl_link_alloc(link, 1)) {
		close(fd);
		return -ENOMEM;
	}
	link->fds[0] = fd;
	link->nfds = 1;
	return 0;
}
