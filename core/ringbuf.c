/* BPF ring buffers, read directly from their mappings.
 *
 * libbpf's reader publishes its position after every record. The producer
 * reads that position on every reserve, so a fast reader keeps the cache
 * line bouncing between the traced CPU and ours, and stays "caught up",
 * which makes the kernel wake it for every record. This reader publishes
 * its position once per batch (and at the end of a drain): the traced
 * program pays for neither, and the producer never waits on space for long
 * since a batch is small next to the ring. */
#include <errno.h>
#include <linux/bpf.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <unistd.h>

#include "error.h"
#include "events.h"

#define BATCH_BYTES (64 * 1024)

struct ring {
	bl_event_cb cb;
	void *ctx;
	unsigned long *consumer_pos; /* read-write page */
	unsigned long *producer_pos; /* read-only: the producer page, then the data twice */
	unsigned char *data;
	unsigned long mask;
	size_t data_map_size;
};

struct bl_ringbuf {
	int epfd;
	struct ring *rings;
	size_t nrings;
	struct epoll_event *events;
};

int bl_ringbuf_open(struct bl_ringbuf **out)
{
	struct bl_ringbuf *rb = calloc(1, sizeof(*rb));

	*out = NULL;
	if (!rb)
		return bl_error(-ENOMEM, "out of memory");
	rb->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (rb->epfd < 0) {
		int err = -errno;

		free(rb);
		return bl_error(err, "cannot poll ring buffers: epoll: %s", strerror(-err));
	}
	*out = rb;
	return 0;
}

int bl_ringbuf_add(struct bl_ringbuf *rb, int map_fd, uint32_t size, bl_event_cb cb, void *ctx)
{
	long page = sysconf(_SC_PAGESIZE);
	struct epoll_event ev = { .events = EPOLLIN };
	struct ring *rings, *r;
	struct epoll_event *evs;
	void *cons, *prod;
	int err;

	if (!size || (size & (size - 1)))
		return bl_error(-EINVAL, "ring buffer size %u is not a power of 2", size);
	rings = realloc(rb->rings, (rb->nrings + 1) * sizeof(*rings));
	if (!rings)
		return bl_error(-ENOMEM, "out of memory");
	rb->rings = rings;
	evs = realloc(rb->events, (rb->nrings + 1) * sizeof(*evs));
	if (!evs)
		return bl_error(-ENOMEM, "out of memory");
	rb->events = evs;
	cons = mmap(NULL, (size_t)page, PROT_READ | PROT_WRITE, MAP_SHARED, map_fd, 0);
	if (cons == MAP_FAILED)
		return bl_error(-errno, "cannot map the ring buffer: %s", strerror(errno));
	/* the data area is mapped twice in a row, so a record that wraps
	 * around the end reads as one piece */
	prod = mmap(NULL, (size_t)page + 2 * (size_t)size, PROT_READ, MAP_SHARED, map_fd, page);
	if (prod == MAP_FAILED) {
		err = -errno;
		munmap(cons, (size_t)page);
		return bl_error(err, "cannot map the ring buffer: %s", strerror(-err));
	}
	r = &rb->rings[rb->nrings];
	r->cb = cb;
	r->ctx = ctx;
	r->consumer_pos = cons;
	r->producer_pos = prod;
	r->data = (unsigned char *)prod + page;
	r->mask = size - 1;
	r->data_map_size = (size_t)page + 2 * (size_t)size;
	ev.data.u32 = (uint32_t)rb->nrings;
	if (epoll_ctl(rb->epfd, EPOLL_CTL_ADD, map_fd, &ev)) {
		err = -errno;
		munmap(cons, (size_t)page);
		munmap(prod, r->data_map_size);
		return bl_error(err, "cannot poll the ring buffer: %s", strerror(-err));
	}
	rb->nrings++;
	return 0;
}

void bl_ringbuf_free(struct bl_ringbuf *rb)
{
	long page = sysconf(_SC_PAGESIZE);

	if (!rb)
		return;
	for (size_t i = 0; i < rb->nrings; i++) {
		munmap(rb->rings[i].consumer_pos, (size_t)page);
		munmap(rb->rings[i].producer_pos, rb->rings[i].data_map_size);
	}
	close(rb->epfd);
	free(rb->rings);
	free(rb->events);
	free(rb);
}

/* Drains one ring; returns records delivered, or the callback's < 0. */
static int drain(struct ring *r)
{
	unsigned long cons = __atomic_load_n(r->consumer_pos, __ATOMIC_ACQUIRE);
	unsigned long published = cons;
	int n = 0, err = 0;

	for (;;) {
		unsigned long prod = __atomic_load_n(r->producer_pos, __ATOMIC_ACQUIRE);

		if (cons >= prod)
			break;
		while (cons < prod) {
			uint32_t *hdr = (uint32_t *)(r->data + (cons & r->mask));
			uint32_t len = __atomic_load_n(hdr, __ATOMIC_ACQUIRE);

			if (len & BPF_RINGBUF_BUSY_BIT)
				goto out; /* reserved, not committed yet */
			cons += ((len & ~(BPF_RINGBUF_BUSY_BIT | BPF_RINGBUF_DISCARD_BIT)) + BPF_RINGBUF_HDR_SZ + 7) & ~7UL;
			if (!(len & BPF_RINGBUF_DISCARD_BIT)) {
				n++;
				err = r->cb(r->ctx, (unsigned char *)hdr + BPF_RINGBUF_HDR_SZ,
					    len & ~(BPF_RINGBUF_BUSY_BIT | BPF_RINGBUF_DISCARD_BIT));
				if (err < 0)
					goto out;
			}
			if (cons - published >= BATCH_BYTES) {
				__atomic_store_n(r->consumer_pos, cons, __ATOMIC_RELEASE);
				published = cons;
			}
		}
	}
out:
	__atomic_store_n(r->consumer_pos, cons, __ATOMIC_RELEASE);
	return err < 0 ? err : n;
}

int bl_ringbuf_consume(struct bl_ringbuf *rb)
{
	int total = 0;

	for (size_t i = 0; i < rb->nrings; i++) {
		int n = drain(&rb->rings[i]);

		if (n < 0)
			return n;
		total += n;
	}
	return total;
}

double bl_ringbuf_fill(const struct bl_ringbuf *rb)
{
	double most = 0;

	for (size_t i = 0; i < rb->nrings; i++) {
		const struct ring *r = &rb->rings[i];
		unsigned long cons = __atomic_load_n(r->consumer_pos, __ATOMIC_ACQUIRE);
		unsigned long prod = __atomic_load_n(r->producer_pos, __ATOMIC_ACQUIRE);
		double f = (double)(prod - cons) / (double)(r->mask + 1);

		if (f > most)
			most = f;
	}
	return most;
}

int bl_ringbuf_poll(struct bl_ringbuf *rb, int timeout_ms)
{
	int ready = epoll_wait(rb->epfd, rb->events, (int)rb->nrings, timeout_ms);
	int total = 0;

	if (ready < 0)
		return -errno;
	for (int i = 0; i < ready; i++) {
		int n = drain(&rb->rings[rb->events[i].data.u32]);

		if (n < 0)
			return n;
		total += n;
	}
	return total;
}
