#include "open.h"

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "cache.h"
#include "error.h"
#include "headers.h"
#include "kernel.h"
#include "load.h"

int bl_object_open(struct bl_compile_opts *co, int use_cache, struct bl_object **objp, int **fdsp)
{
	const struct bl_headers *h;
	struct bl_object *obj = NULL;
	int *fds = NULL, err;

	*objp = NULL;
	*fdsp = NULL;
	if (!bl_features()->bpf_syscall)
		return bl_error(-EPERM, "cannot use BPF here%s",
				*bl_privilege_hint() ? bl_privilege_hint()
						     : " (the bpf() system call failed: is CONFIG_BPF_SYSCALL set, "
						       "or kernel.unprivileged_bpf_disabled in the way?)");
	h = bl_headers_host();
	if (!h)
		return bl_last_errno() ? bl_last_errno() : -ENOENT;
	co->kernel_source = h->path;
	err = bl_cache_compile(co, h, use_cache, &obj);
	if (err)
		return err;
	fds = malloc((obj->nmaps + 1) * sizeof(*fds));
	if (!fds) {
		bl_object_free(obj);
		return bl_error(-ENOMEM, "out of memory");
	}
	err = bl_load_maps(obj, fds);
	if (err) {
		free(fds);
		bl_object_free(obj);
		return err;
	}
	*objp = obj;
	*fdsp = fds;
	return 0;
}

void bl_object_close(struct bl_object *obj, int *map_fds)
{
	if (obj && map_fds)
		for (size_t i = 0; i < obj->nmaps; i++)
			if (map_fds[i] >= 0)
				close(map_fds[i]);
	free(map_fds);
	if (obj)
		bl_object_free(obj);
}
