/* Uprobes and uretprobes, through libbcc_bpf: it uses the uprobe PMU when the
 * kernel has one (no uprobe_events entry at all) and falls back to
 * uprobe_events, which detach then cleans. */
#include <bcc/bcc_proc.h>
#include <bcc/bcc_syms.h>
#include <bcc/libbpf.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/bpf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "attach.h"
#include "../error.h"
#include "../kernel.h"
#include "../symbols.h"

static void event_name(char *out, size_t len, int ret, const char *path, uint64_t off)
{
	size_t n = (size_t)snprintf(out, len, "%s_bpflua_%d_", ret ? "r" : "p", (int)getpid());

	for (const char *p = path; *p && n + 24 < len; p++)
		out[n++] = (char)((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
				  (*p >= '0' && *p <= '9') ? *p : '_');
	snprintf(out + n, len - n, "_0x%llx", (unsigned long long)off);
}

/* The binary spec names and the file offset to probe: its symbol's (or
 * address), or with emulate, maybe a few bytes further (*entry: the symbol's). */
static int resolve(const struct bl_attach_spec *spec, char *path, size_t len, uint64_t *off,
		   uint64_t *entry)
{
	struct bcc_symbol_option opt = *bl_sym_options();
	struct bcc_symbol sym;

	memset(&sym, 0, sizeof(sym));
	if (bcc_resolve_symname(spec->target, spec->sym, spec->addr, spec->pid, &opt, &sym) < 0) {
		if (strchr(spec->target, '/') && access(spec->target, F_OK))
			return bl_error(-ENOENT, "uprobe target %s does not exist", spec->target);
		if (!strchr(spec->target, '/') && !spec->sym)
			return bl_error(-ENOENT, "uprobe target '%s' not found", spec->target);
		if (!spec->sym)
			return bl_error(-ENOENT, "address 0x%" PRIx64 " is not in a loadable segment of %s",
					spec->addr, spec->target);
		return bl_error(-ENOENT, "cannot find symbol '%s' in %s", spec->sym, spec->target);
	}
	snprintf(path, len, "%s", sym.module);
	bcc_procutils_free(sym.module);
	*off = *entry = sym.offset;
	if (spec->emulate && !spec->retprobe && spec->sym && !spec->addr)
		*off = bl_uprobe_emulated(path, spec->sym, sym.offset);
	return 0;
}

int bl_uprobe_key(const struct bl_attach_spec *spec, char *key, size_t len)
{
	char path[4096];
	uint64_t off, entry;
	int err = resolve(spec, path, sizeof(path), &off, &entry);

	if (!err)
		snprintf(key, len, "%c:%s:0x%" PRIx64 ":%d", spec->retprobe ? 'r' : 'p', path, off,
			 spec->pid);
	return err;
}

/* The kernel keeps one uprobe per (file, offset), and every tracer that
 * attaches there must pass the same reference-counter offset, or gets a
 * bare EINVAL. BCC 0.26's Python binding declares bpf_attach_uprobe with
 * six arguments for its seven, so the seventh, the counter's offset, is
 * whatever lies on the stack (0x6 here, every run). The kernel names the
 * offset it already holds in its log ("ref_ctr_offset mismatch ... (old):
 * 0x6"): read it from there and attach again with the same, so both tracers
 * run side by side. Returns the offset, or -1 when the log does not say. */
static long long held_ref_ctr(int kmsg, const char *path, uint64_t off)
{
	struct stat st;
	char rec[1024];
	long long found = -1;
	ssize_t n;

	if (stat(path, &st))
		return -1;
	while ((n = read(kmsg, rec, sizeof(rec) - 1)) > 0 || (n < 0 && errno == EPIPE)) {
		unsigned long ino;
		unsigned long long at, old, new;
		const char *m;

		if (n < 0)
			continue; /* records were overwritten before we read them */
		rec[n] = '\0';
		m = strstr(rec, "ref_ctr_offset mismatch. inode: ");
		if (m && sscanf(m, "ref_ctr_offset mismatch. inode: 0x%lx offset: 0x%llx "
				   "ref_ctr_offset(old): 0x%llx ref_ctr_offset(new): 0x%llx",
				&ino, &at, &old, &new) == 4 &&
		    ino == (unsigned long)st.st_ino && at == off && old <= UINT32_MAX)
			found = (long long)old;
	}
	return found;
}

/* libbcc prints "cannot attach uprobe, <errno>" on stderr itself, which
 * would precede our own message, and would be printed for an attempt that
 * a retry then turns into a success: its stderr goes to /dev/null for the
 * call (attaches happen on the one Lua thread). errno is the call's. */
static int attach_at(int prog_fd, const struct bl_attach_spec *spec, struct bl_link *link,
		     const char *path, uint64_t off, uint32_t ref_ctr)
{
	int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
	int saved = null >= 0 ? fcntl(2, F_DUPFD_CLOEXEC, 3) : -1;
	int fd, err;

	fflush(stderr);
	if (saved >= 0)
		dup2(null, 2);
	fd = bpf_attach_uprobe(prog_fd, spec->retprobe ? BPF_PROBE_RETURN : BPF_PROBE_ENTRY, link->ev_name,
			       path, off, spec->pid, ref_ctr);
	err = errno;
	if (fd < 0) /* a failed fallback can leave its uprobe_events entry */
		bpf_detach_uprobe(link->ev_name);
	fflush(stderr);
	if (saved >= 0) {
		dup2(saved, 2);
		close(saved);
	}
	if (null >= 0)
		close(null);
	errno = err;
	return fd;
}

/* attach_at, and for a USDT semaphore only through the uprobe PMU: when the
 * PMU refuses, libbcc falls back to uprobe_events without the reference
 * counter, and the probe would attach but its semaphore never be set. */
static int attach_counted(int prog_fd, const struct bl_attach_spec *spec, struct bl_link *link,
			  const char *path, uint64_t off, uint32_t ref_ctr)
{
	int fd = attach_at(prog_fd, spec, link, path, off, ref_ctr);
	char legacy[512];

	/* libbcc names its uprobe_events entry NAME_bcc_PID */
	snprintf(legacy, sizeof(legacy), "%s/events/uprobes/%s_bcc_%d", bl_tracefs(), link->ev_name, (int)getpid());
	if (fd >= 0 && ref_ctr && *bl_tracefs() && access(legacy, F_OK) == 0) {
		close(fd);
		bpf_detach_uprobe(link->ev_name);
		errno = EINVAL;
		return -1;
	}
	return fd;
}

static int up_attach(int prog_fd, const struct bl_attach_spec *spec, struct bl_link *link)
{
	char path[4096];
	uint64_t off, entry;
	int pfd, err;

	if (!bl_features()->uprobes)
		return bl_error(-EOPNOTSUPP, "uprobes are not supported by this kernel (CONFIG_UPROBES)");
	err = resolve(spec, path, sizeof(path), &off, &entry);
	if (err)
		return err;
	event_name(link->ev_name, sizeof(link->ev_name), spec->retprobe, path, off);
	snprintf(link->key, sizeof(link->key), "%c:%s:0x%" PRIx64 ":%d", spec->retprobe ? 'r' : 'p',
		 path, off, spec->pid);
	if (spec->desc)
		snprintf(link->desc, sizeof(link->desc), "%s", spec->desc);
	else
		snprintf(link->desc, sizeof(link->desc), "%s:%s:%s",
			 spec->retprobe ? "uretprobe" : "uprobe", path, spec->sym ? spec->sym : "");
	if (spec->emulate && off != entry) /* say where it went */
		snprintf(link->desc + strlen(link->desc), sizeof(link->desc) - strlen(link->desc),
			 "+0x%" PRIx64, off - entry);
	pfd = attach_counted(prog_fd, spec, link, path, off, spec->ref_ctr_offset);
	if (pfd < 0 && errno == EINVAL) {
		/* another tracer's uprobe here, with another counter offset? */
		int kmsg = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
		long long held = -1;

		/* once more, so that the kernel's complaint is the newest record */
		if (kmsg >= 0 && lseek(kmsg, 0, SEEK_END) >= 0) {
			pfd = attach_counted(prog_fd, spec, link, path, off, spec->ref_ctr_offset);
			if (pfd < 0)
				held = held_ref_ctr(kmsg, path, off);
		}
		if (kmsg >= 0)
			close(kmsg);
		if (pfd >= 0) {
			/* the other probe went away meanwhile */
		} else if (held >= 0 && (uint32_t)held != spec->ref_ctr_offset) {
			if (spec->ref_ctr_offset)
				return bl_error(-EINVAL, "cannot attach %s: another tracer has a uprobe at "
						 "%s+0x%" PRIx64 " with reference counter 0x%llx, this "
						 "probe's semaphore is at 0x%x; the kernel allows one",
						link->desc, path, off, held, spec->ref_ctr_offset);
			pfd = attach_counted(prog_fd, spec, link, path, off, (uint32_t)held);
		} else {
			errno = EINVAL;
			return bl_error(-EINVAL, "cannot attach %s: the kernel refused it (EINVAL); another "
					 "tracer (BCC 0.26's Python tools pass a stray reference-counter "
					 "offset) may hold a uprobe at %s+0x%" PRIx64 " with another "
					 "reference counter, and the kernel allows one per address",
					link->desc, path, off);
		}
	}
	if (pfd < 0)
		return bl_error(pfd, "cannot attach %s: %s%s", link->desc, strerror(errno),
				errno == EPERM || errno == EACCES ? bl_privilege_hint() : "");
	/* on failure bl_attach's detach removes the event */
	return bl_link_set_fd(link, pfd);
}

static void up_detach(struct bl_link *link)
{
	bl_close_fds(link);
	if (link->ev_name[0])
		bpf_detach_uprobe(link->ev_name);
}

const struct bl_provider bl_uprobe_provider = {
	.name = "uprobe",
	.prog_type = BPF_PROG_TYPE_KPROBE,
	.attach = up_attach,
	.detach = up_detach,
};
