/* read: event streams from the kernel, drained in C, each record handed to
 * a callback with its raw bytes. Perf buffers (one ring per CPU, registered
 * in a BPF_MAP_TYPE_PERF_EVENT_ARRAY) are events.c's; BPF ring buffers are
 * ringbuf.c's. */
#ifndef BPFLUA_EVENTS_H
#define BPFLUA_EVENTS_H

#include <stddef.h>
#include <stdint.h>

typedef int (*bl_event_cb)(void *ctx, const void *data, size_t size);
typedef void (*bl_lost_cb)(void *ctx, uint64_t lost);

struct bl_perfbuf;

/* One perf ring per online CPU, each installed in the map at its CPU index. */
int bl_perfbuf_open(int map_fd, int page_cnt, bl_event_cb cb, bl_lost_cb lost, void *ctx,
		    struct bl_perfbuf **out);
void bl_perfbuf_free(struct bl_perfbuf *pb);
/* Polls every ring of every buffer given; returns records seen or -errno
 * (-EINTR when a signal arrived). */
int bl_perfbuf_poll(struct bl_perfbuf **pbs, int n, int timeout_ms);

/* BPF ring buffers: ringbuf.c. One poller serves every ring buffer map of
 * an object; a callback returning < 0 stops the drain. */
struct bl_ringbuf;

int bl_ringbuf_open(struct bl_ringbuf **out);
/* Maps a BPF_MAP_TYPE_RINGBUF of `size` bytes (its max_entries) into the poller. */
int bl_ringbuf_add(struct bl_ringbuf *rb, int map_fd, uint32_t size, bl_event_cb cb, void *ctx);
void bl_ringbuf_free(struct bl_ringbuf *rb);
/* Waits up to timeout_ms for records, then drains the rings that have
 * some; returns records delivered or -errno (-EINTR on a signal). */
int bl_ringbuf_poll(struct bl_ringbuf *rb, int timeout_ms);
/* Drains every ring without waiting. */
int bl_ringbuf_consume(struct bl_ringbuf *rb);
/* The share (0 to 1) of the fullest ring that holds records not read yet. */
double bl_ringbuf_fill(const struct bl_ringbuf *rb);

#endif
