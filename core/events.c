#include "events.h"

#include <bcc/libbpf.h>
#include <bcc/perf_reader.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "error.h"
#include "kernel.h"
#include "sys.h"


struct bl_perfbuf {
	bl_event_cb cb;
	bl_lost_cb lost;
	void *ctx;
	int stop; /* a callback asked to stop this round */
	int nreaders;
	struct perf_reader *readers[];
};

static void perf_raw(void *cookie, void *raw, int size)
{
	struct bl_perfbuf *pb = cookie;

	if (pb->stop)
		return;
	if (pb->cb(pb->ctx, raw, (size_t)size))
		pb->stop = 1;
}

static void perf_lost(void *cookie, uint64_t lost)
{
	struct bl_perfbuf *pb = cookie;

	if (pb->lost)
		pb->lost(pb->ctx, lost);
}

int bl_perfbuf_open(int map_fd, int page_cnt, bl_event_cb cb, bl_lost_cb lost, void *ctx,
		    struct bl_perfbuf **out)
{
	const int *cpus;
	struct bl_perfbuf *pb;
	int n, err = 0;

	*out = NULL;
	if (page_cnt <= 0 || (page_cnt & (page_cnt - 1)))
		return bl_error(-EINVAL, "page_cnt must be a power of two, not %d", page_cnt);
	n = bl_online_cpus(&cpus);
	if (n <= 0)
		return bl_error(-EIO, "cannot read the online CPUs");
	pb = calloc(1, sizeof(*pb) + sizeof(struct perf_reader *) * (size_t)n);
	if (!pb)
		return -ENOMEM;
	pb->cb = cb;
	pb->lost = lost;
	pb->ctx = ctx;
	for (int i = 0; i < n; i++) {
		struct perf_reader *r = bpf_open_perf_buffer(perf_raw, perf_lost, pb, -1, cpus[i], page_cnt);
		int fd;

		if (!r) {
			err = bl_error(-errno ? -errno : -EIO, "cannot open a perf buffer on CPU %d: %s",
				       cpus[i], strerror(errno ? errno : EIO));
			break;
		}
		pb->readers[pb->nreaders++] = r;
		fd = perf_reader_fd(r);
		int cpu = cpus[i]; /* libbcc's prototype wants a mutable key */

		if (bpf_update_elem(map_fd, &cpu, &fd, 0)) {
			err = bl_error(-errno, "cannot install the perf buffer of CPU %d: %s", cpus[i],
				       strerror(errno));
			break;
		}
	}
	if (err) {
		bl_perfbuf_free(pb);
		return err;
	}
	*out = pb;
	return 0;
}

void bl_perfbuf_free(struct bl_perfbuf *pb)
{
	if (!pb)
		return;
	for (int i = 0; i < pb->nreaders; i++)
		perf_reader_free(pb->readers[i]);
	free(pb);
}

int bl_perfbuf_poll(struct bl_perfbuf **pbs, int n, int timeout_ms)
{
	struct perf_reader *all[BL_MAX_CPUS];
	int total = 0, rc;

	for (int i = 0; i < n; i++) {
		pbs[i]->stop = 0;
		for (int k = 0; k < pbs[i]->nreaders && total < BL_MAX_CPUS; k++)
			all[total++] = pbs[i]->readers[k];
	}
	rc = perf_reader_poll(total, all, timeout_ms);
	return rc < 0 ? -errno : rc;
}
