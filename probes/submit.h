/* Handing an event to user space, for the snippets that stream (tcplife,
 * tcpconnect, http) and trace{} one-liners: through a ring buffer where the kernel has one
 * (-DBL_RINGBUF, set by bpflua/events.lua), a perf buffer otherwise; what
 * does not fit is counted in events_lost, whichever the path (the kernel
 * tells a perf reader of drops only once the next event fits). Include it
 * after the snippet's struct event and its `events` and `events_lost` maps:
 * libbcc rewrites map calls in functions, not in macros. bl_submit_len
 * sends the first len bytes alone (len bounded for the verifier, at most
 * sizeof(*e)): an event ending in a capture buffer used in part, read with
 * events.open's cut option. */
static __always_inline void bl_submit_len(void *ctx, struct event *e, u32 len)
{
	int zero = 0;

#ifdef BL_RINGBUF
	if (events.ringbuf_output(e, len, BL_RB_FLAGS))
		events_lost.increment(zero);
#else
	if (events.perf_submit(ctx, e, len))
		events_lost.increment(zero);
#endif
}

static __always_inline void bl_submit(void *ctx, struct event *e)
{
	bl_submit_len(ctx, e, sizeof(*e));
}
