/* Raw tracepoints: BPF_RAW_TRACEPOINT_OPEN returns the link fd itself. */
#include <errno.h>
#include <linux/bpf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "attach.h"
#include "../error.h"
#include "../sys.h"

static int raw_attach(int prog_fd, const struct bl_attach_spec *spec, struct bl_link *link)
{
	union bpf_attr attr;
	int fd;

	memset(&attr, 0, sizeof(attr));
	attr.raw_tracepoint.name = (uint64_t)(uintptr_t)spec->target;
	attr.raw_tracepoint.prog_fd = (uint32_t)prog_fd;
	fd = (int)bl_sys_bpf(BPF_RAW_TRACEPOINT_OPEN, &attr);
	if (fd < 0) {
		int err = -errno;

		if (err == -ENOENT)
			return bl_error(err, "raw tracepoint '%s' not found (names are those of "
					     "tracepoints without the category, e.g. sys_enter)", spec->target);
		return bl_error(err, "cannot attach raw tracepoint %s: %s", spec->target, strerror(-err));
	}
	snprintf(link->desc, sizeof(link->desc), "raw_tracepoint:%s", spec->target);
	return bl_link_set_fd(link, fd);
}

const struct bl_provider bl_raw_tracepoint_provider = {
	.name = "raw_tracepoint",
	.prog_type = BPF_PROG_TYPE_RAW_TRACEPOINT,
	.attach = raw_attach,
};
