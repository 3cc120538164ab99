/* Uprobes and uretprobes, through libbcc_bpf: it uses the uprobe PMU when the
 * kernel has one (no uprobe_events entry at all) and falls back to
 * uprobe_events, which detach then cleans. */
#include <bcc/bcc_proc.h>
#include <bcc/bcc_syms.h>
#include <bcc/libbpf.h>
#include <elf.h>
#include <errno.h>
#include <linux/bpf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

static int up_attach(int prog_fd, const struct bl_attach_spec *spec, struct bl_link *link)
{
	struct bcc_symbol_option opt = *bl_sym_options();
	struct bcc_symbol sym;
	char path[4096];
	int pfd;

	if (!bl_features()->uprobes)
		return bl_error(-EOPNOTSUPP, "uprobes are not supported by this kernel (CONFIG_UPROBES)");
	memset(&sym, 0, sizeof(sym));
	if (bcc_resolve_symname(spec->target, spec->sym, spec->addr, spec->pid, &opt, &sym) < 0) {
		if (strchr(spec->target, '/') && access(spec->target, F_OK))
			return bl_error(-ENOENT, "uprobe target %s does not exist", spec->target);
		if (!strchr(spec->target, '/') && !spec->sym)
			return bl_error(-ENOENT, "uprobe target '%s' not found", spec->target);
		return bl_error(-ENOENT, "cannot find symbol '%s' in %s", spec->sym ? spec->sym : "?",
				spec->target);
	}
	snprintf(path, sizeof(path), "%s", sym.module);
	bcc_procutils_free(sym.module);
	event_name(link->ev_name, sizeof(link->ev_name), spec->retprobe, path, sym.offset);
	snprintf(link->desc, sizeof(link->desc), "%s:%s:%s", spec->retprobe ? "uretprobe" : "uprobe",
		 path, spec->sym ? spec->sym : "");
	pfd = bpf_attach_uprobe(prog_fd, spec->retprobe ? BPF_PROBE_RETURN : BPF_PROBE_ENTRY,
				link->ev_name, path, sym.offset, spec->pid, 0);
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
