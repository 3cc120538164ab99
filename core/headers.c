#include "headers.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include "error.h"
#include "paths.h"

#define STAMP ".bpflua-tree"

static int is_dir(const char *p)
{
	struct stat st;

	return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static int has(const char *dir, const char *rel)
{
	char p[PATH_MAX];

	snprintf(p, sizeof(p), "%s/%s", dir, rel);
	return access(p, F_OK) == 0;
}

/* A tree libbcc can use on its own: sources and generated config together. */
static int complete_tree(const char *dir)
{
	return has(dir, "include/linux/kconfig.h") && has(dir, "include/generated/autoconf.h");
}

/* Debian's arch tree has a one-line Makefile: "include /usr/src/...-common/Makefile". */
static int split_common(const char *root, const char *dir, char *common, size_t len)
{
	char mk[PATH_MAX], line[PATH_MAX];
	int found = 0;
	FILE *f;

	snprintf(mk, sizeof(mk), "%s/Makefile", dir);
	f = fopen(mk, "r");
	if (!f)
		return 0;
	while (!found && fgets(line, sizeof(line), f)) {
		char *p = line, *end;

		if (strncmp(p, "include ", 8))
			continue;
		p += 8;
		end = strstr(p, "/Makefile");
		if (!end)
			continue;
		*end = '\0';
		snprintf(common, len, "%s%s", *p == '/' ? root : "", p);
		found = has(common, "include/linux/kconfig.h");
	}
	fclose(f);
	return found;
}

/* Recursively links a's and b's entries into dst; a directory present in both
 * becomes a real directory merged the same way, anything else a symlink
 * (a's copy wins, as the arch tree's generated files must). */
static int merge(const char *dst, const char *a, const char *b)
{
	const char *srcs[2] = { a, b };
	int err = 0;

	if (mkdir(dst, 0755) && errno != EEXIST)
		return -errno;
	for (int s = 0; s < 2 && !err; s++) {
		DIR *d = opendir(srcs[s]);
		struct dirent *e;

		if (!d)
			continue;
		while (!err && (e = readdir(d))) {
			char from[PATH_MAX], to[PATH_MAX], other[PATH_MAX];

			if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
				continue;
			snprintf(to, sizeof(to), "%s/%s", dst, e->d_name);
			snprintf(from, sizeof(from), "%s/%s", srcs[s], e->d_name);
			if (access(to, F_OK) == 0 || is_dir(to))
				continue; /* a's entry, already placed */
			snprintf(other, sizeof(other), "%s/%s", srcs[1 - s], e->d_name);
			if (s == 0 && is_dir(from) && is_dir(other))
				err = merge(to, from, other);
			else if (symlink(from, to))
				err = -errno;
		}
		closedir(d);
	}
	return err;
}

static int remove_tree(const char *path)
{
	char cmd[PATH_MAX + 32];

	if (access(path, F_OK))
		return 0;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", path);
	return system(cmd) == 0 ? 0 : -EIO;
}

/* Builds (once) the merged farm for a split tree and returns its path. The
 * farm is built under a temporary name and renamed, so a crash never leaves
 * a half-built tree that a later run would trust. */
static int farm(const char *cache, const char *arch, const char *common, char *out, size_t len)
{
	char tmp[PATH_MAX], stamp[PATH_MAX], want[2 * PATH_MAX + 2], got[2 * PATH_MAX + 2] = "";
	const char *base = strrchr(arch, '/') ? strrchr(arch, '/') + 1 : arch;
	FILE *f;
	int err;

	snprintf(out, len, "%s/headers/%s", cache, base);
	snprintf(want, sizeof(want), "%s\n%s\n", arch, common);
	snprintf(stamp, sizeof(stamp), "%s/" STAMP, out);
	f = fopen(stamp, "r");
	if (f) {
		size_t n = fread(got, 1, sizeof(got) - 1, f);

		got[n] = '\0';
		fclose(f);
		if (!strcmp(got, want) && complete_tree(out))
			return 0;
	}
	err = bl_mkdir_p(cache, 0700);
	snprintf(tmp, sizeof(tmp), "%s/headers", cache);
	err = err ? err : bl_mkdir_p(tmp, 0755);
	if (err)
		return bl_error(err, "cannot create %s: %s", tmp, strerror(-err));
	snprintf(tmp, sizeof(tmp), "%s.tmp.%d", out, (int)getpid());
	remove_tree(tmp);
	err = merge(tmp, arch, common);
	if (!err) {
		snprintf(stamp, sizeof(stamp), "%s/" STAMP, tmp);
		f = fopen(stamp, "w");
		if (!f || fputs(want, f) < 0)
			err = -EIO;
		if (f && fclose(f))
			err = -EIO;
	}
	if (!err) {
		remove_tree(out);
		if (rename(tmp, out))
			err = -errno;
	}
	if (err) {
		remove_tree(tmp);
		return bl_error(err, "cannot build a merged header tree in %s: %s", out, strerror(-err));
	}
	return 0;
}

/* Turns a candidate directory into a usable tree path, merging a split one. */
static int usable(const struct bl_headers_opts *o, const char *dir, char *out, size_t len)
{
	char common[PATH_MAX];

	if (!is_dir(dir))
		return 0;
	if (complete_tree(dir)) {
		snprintf(out, len, "%s", dir);
		return 1;
	}
	if (!has(dir, "include/generated/autoconf.h") || !split_common(o->root, dir, common, sizeof(common)))
		return 0;
	return farm(o->cache_dir, dir, common, out, len) == 0;
}

static int kheaders(const struct bl_headers_opts *o, struct bl_headers *h)
{
	char archive[PATH_MAX], dst[PATH_MAX], tmp[PATH_MAX], cmd[3 * PATH_MAX];
	int err;

	snprintf(archive, sizeof(archive), "%s/sys/kernel/kheaders.tar.xz", o->root);
	if (access(archive, R_OK))
		return 0;
	snprintf(dst, sizeof(dst), "%s/kheaders-%s", o->cache_dir, o->release);
	if (!complete_tree(dst) && !has(dst, "include/linux/kconfig.h")) {
		err = bl_mkdir_p(o->cache_dir, 0700);
		if (err)
			return 0;
		snprintf(tmp, sizeof(tmp), "%s.tmp.%d", dst, (int)getpid());
		remove_tree(tmp);
		snprintf(cmd, sizeof(cmd), "mkdir -p '%s' && tar -xJf '%s' -C '%s' 2>/dev/null", tmp,
			 archive, tmp);
		if (system(cmd) != 0 || rename(tmp, dst)) {
			remove_tree(tmp);
			return 0;
		}
	}
	snprintf(h->path, sizeof(h->path), "%s", dst);
	snprintf(h->source, sizeof(h->source), "%s", archive);
	snprintf(h->version, sizeof(h->version), "%s", o->release);
	h->how = BL_HEADERS_KHEADERS;
	return 1;
}

static void parse_release(const char *r, int v[3])
{
	v[0] = v[1] = v[2] = 0;
	sscanf(r, "%d.%d.%d", &v[0], &v[1], &v[2]);
}

int bl_release_distance(const char *a, const char *b)
{
	int va[3], vb[3];

	parse_release(a, va);
	parse_release(b, vb);
	return abs(va[0] - vb[0]) * 10000 + abs(va[1] - vb[1]) * 10 + (va[2] != vb[2]);
}

/* linux-headers-6.1.0-56-amd64 -> 6.1.0-56-amd64 */
static const char *release_of(const char *name)
{
	return strncmp(name, "linux-headers-", 14) ? name : name + 14;
}

static int nearest(const struct bl_headers_opts *o, struct bl_headers *h)
{
	static const char *const dirs[] = { "/lib/modules", "/usr/src" };
	int best = -1;

	for (size_t i = 0; i < 2; i++) {
		char dir[PATH_MAX];
		struct dirent *e;
		DIR *d;

		snprintf(dir, sizeof(dir), "%s%s", o->root, dirs[i]);
		d = opendir(dir);
		if (!d)
			continue;
		while ((e = readdir(d))) {
			char cand[PATH_MAX], path[PATH_MAX];
			const char *rel = release_of(e->d_name);
			int dist;

			if (e->d_name[0] == '.' || rel[0] < '0' || rel[0] > '9')
				continue;
			if (i == 0)
				snprintf(cand, sizeof(cand), "%s/%s/build", dir, e->d_name);
			else
				snprintf(cand, sizeof(cand), "%s/%s", dir, e->d_name);
			dist = bl_release_distance(rel, o->release);
			if (best >= 0 && dist >= best)
				continue;
			if (!usable(o, cand, path, sizeof(path)))
				continue;
			best = dist;
			snprintf(h->path, sizeof(h->path), "%s", path);
			snprintf(h->source, sizeof(h->source), "%s", cand);
			snprintf(h->version, sizeof(h->version), "%s", rel);
		}
		closedir(d);
	}
	h->how = BL_HEADERS_NEAREST;
	return best >= 0;
}

int bl_headers_find(const struct bl_headers_opts *o, struct bl_headers *h)
{
	const char *env = getenv("BCC_KERNEL_SOURCE");
	char dir[PATH_MAX];

	memset(h, 0, sizeof(*h));
	if (env && *env) {
		snprintf(h->path, sizeof(h->path), "%s", env);
		snprintf(h->source, sizeof(h->source), "%s", env);
		snprintf(h->version, sizeof(h->version), "%s", o->release);
		h->how = BL_HEADERS_ENV;
		return 0;
	}
	static const char *const own[] = { "build", "source" };
	for (size_t i = 0; i < 2; i++) {
		snprintf(dir, sizeof(dir), "%s/lib/modules/%s/%s", o->root, o->release, own[i]);
		if (usable(o, dir, h->path, sizeof(h->path))) {
			snprintf(h->source, sizeof(h->source), "%s", dir);
			snprintf(h->version, sizeof(h->version), "%s", o->release);
			h->how = BL_HEADERS_EXACT;
			return 0;
		}
	}
	if (kheaders(o, h) || nearest(o, h))
		return 0;
	return bl_error(-ENOENT,
			"no kernel headers found for %s: install linux-headers-%s (or the nearest "
			"linux-headers-* package, e.g. linux-headers-amd64 on Debian), or build the "
			"kernel with CONFIG_IKHEADERS",
			o->release, o->release);
}

const struct bl_headers *bl_headers_host(void)
{
	static struct bl_headers h;
	static int state; /* 0 not asked, 1 found, -1 none */
	struct utsname un;

	if (state)
		return state > 0 ? &h : NULL;
	uname(&un);
	struct bl_headers_opts o = { .root = "", .release = un.release, .cache_dir = bl_cache_dir() };

	if (bl_headers_find(&o, &h)) {
		state = -1;
		return NULL;
	}
	state = 1;
	if (h.how == BL_HEADERS_NEAREST)
		bl_warn("no kernel headers for the running kernel %s; using %s from %s "
			"(struct layouts may differ; tracepoint fields are read from tracefs)",
			un.release, h.version, h.source);
	else if (h.how == BL_HEADERS_KHEADERS)
		bl_verbose("kernel headers from %s", h.source);
	return &h;
}
