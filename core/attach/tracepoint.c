/* Tracepoints: a perf event of type PERF_TYPE_TRACEPOINT with the event's id
 * from tracefs, and the program set on it. */
#include <dirent.h>
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

/* Names in dir that contain want or that want contains: "did you mean". */
static void suggest(const char *dir, const char *want, const char *prefix, char *out, size_t len)
{
	struct dirent *e;
	size_t used = 0;
	int n = 0;
	DIR *d = opendir(dir);

	out[0] = '\0';
	if (!d)
		return;
	while ((e = readdir(d)) && n < 5) {
		if (e->d_name[0] == '.' || !*want)
			continue;
		if (!strstr(e->d_name, want) && !strstr(want, e->d_name))
			continue;
		used += (size_t)snprintf(out + used, len > used ? len - used : 0, "%s%s%s",
					 n ? ", " : "; did you mean ", prefix, e->d_name);
		n++;
	}
	closedir(d);
	if (used >= len)
		out[0] = '\0';
}

/* The part of a name worth matching on: "sys_enter_getppidd" -> "getppid". */
static void stem(const char *name, char *out, size_t len)
{
	const char *p = strrchr(name, '_');

	snprintf(out, len, "%s", p && p[1] ? p + 1 : name);
	if (strlen(out) > 4)
		out[strlen(out) - 1] = '\0';
}

int bl_tracepoint_id(const char *category, const char *name)
{
	const char *tfs = bl_tracefs();
	char path[512], hint[512], s[128];
	FILE *f;
	int id = -1;

	if (!*tfs)
		return bl_error(-ENOENT, "tracefs is not mounted and could not be mounted on "
					 "/sys/kernel/tracing: tracepoints cannot be used");
	snprintf(path, sizeof(path), "%s/events/%s/%s/id", tfs, category, name);
	f = fopen(path, "r");
	if (!f) {
		int err = -errno;

		snprintf(path, sizeof(path), "%s/events/%s", tfs, category);
		if (access(path, F_OK)) {
			snprintf(path, sizeof(path), "%s/events", tfs);
			stem(category, s, sizeof(s));
			suggest(path, s, "", hint, sizeof(hint));
			return bl_error(-ENOENT, "tracepoint category '%s' not found (no %s/events/%s)%s",
					category, tfs, category, hint);
		}
		stem(name, s, sizeof(s));
		suggest(path, s, "", hint, sizeof(hint));
		if (err == -ENOENT)
			return bl_error(err, "tracepoint %s:%s not found%s", category, name, hint);
		return bl_error(err, "cannot read %s/events/%s/%s/id: %s", tfs, category, name, strerror(-err));
	}
	if (fscanf(f, "%d", &id) != 1)
		id = -1;
	fclose(f);
	return id < 0 ? bl_error(-EINVAL, "tracepoint %s:%s has no id", category, name) : id;
}

static int tp_attach(int prog_fd, const struct bl_attach_spec *spec, struct bl_link *link)
{
	struct perf_event_attr attr;
	char cat[128];
	const char *colon = strchr(spec->target, ':');
	int id, pfd, err;

	if (!colon || colon == spec->target || !colon[1] || (size_t)(colon - spec->target) >= sizeof(cat))
		return bl_error(-EINVAL, "tracepoint '%s' is not of the form category:name", spec->target);
	memcpy(cat, spec->target, (size_t)(colon - spec->target));
	cat[colon - spec->target] = '\0';
	id = bl_tracepoint_id(cat, colon + 1);
	if (id < 0)
		return id;
	memset(&attr, 0, sizeof(attr));
	attr.size = sizeof(attr);
	attr.type = PERF_TYPE_TRACEPOINT;
	attr.config = (uint64_t)id;
	attr.sample_period = 1;
	attr.wakeup_events = 1;
	pfd = bl_sys_perf_event_open(&attr, -1, 0);
	if (pfd < 0)
		return bl_error(-errno, "cannot open tracepoint %s: %s%s", spec->target, strerror(errno),
				errno == EACCES || errno == EPERM ? bl_privilege_hint() : "");
	err = bl_link_set_fd(link, pfd);
	if (err)
		return err;
	snprintf(link->desc, sizeof(link->desc), "tracepoint:%s", spec->target);
	err = bl_perf_event_attach_bpf(link, 0, prog_fd);
	if (err)
		return bl_error(err, "cannot attach to tracepoint %s: %s", spec->target, strerror(-err));
	return 0;
}

const struct bl_provider bl_tracepoint_provider = {
	.name = "tracepoint",
	.prog_type = BPF_PROG_TYPE_TRACEPOINT,
	.attach = tp_attach,
};
