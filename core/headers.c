#include "headers.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <nettle/sha2.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cache.h"
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

const char *bl_headers_arch(void)
{
	static const char *const map[][2] = {
		{ "x86_64", "x86" }, { "i686", "x86" }, { "i386", "x86" }, { "aarch64", "arm64" },
		{ "arm", "arm" },    { "ppc", "powerpc" }, { "s390", "s390" }, { "riscv", "riscv" },
		{ "mips", "mips" },  { "loongarch", "loongarch" }, { "sparc", "sparc" },
	};
	static char arch[65];
	struct utsname u;

	if (arch[0])
		return arch;
	uname(&u);
	snprintf(arch, sizeof(arch), "%s", u.machine);
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (!strncmp(u.machine, map[i][0], strlen(map[i][0]))) {
			snprintf(arch, sizeof(arch), "%s", map[i][1]);
			break;
		}
	return arch;
}

/* The first piece the compiler needs that neither a nor b (may be NULL)
 * holds, or NULL when the pair is a usable tree. */
static const char *missing_piece(const char *a, const char *b, char *buf, size_t len)
{
	static const char *const pieces[] = { "include/linux/kconfig.h", "include/generated/autoconf.h",
					      "arch/%s/include", "arch/%s/include/generated" };

	for (size_t i = 0; i < sizeof(pieces) / sizeof(pieces[0]); i++) {
		snprintf(buf, len, pieces[i], bl_headers_arch());
		if (!has(a, buf) && !(b && has(b, buf)))
			return buf;
	}
	return NULL;
}

static void note(char *notes, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void note(char *notes, size_t len, const char *fmt, ...)
{
	size_t n = strlen(notes);
	va_list ap;

	if (n && n + 2 < len)
		n += (size_t)snprintf(notes + n, len - n, "; ");
	if (n + 1 >= len)
		return;
	va_start(ap, fmt);
	vsnprintf(notes + n, len - n, fmt, ap);
	va_end(ap);
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
		found = is_dir(common);
	}
	fclose(f);
	return found;
}

/* An entry is there if it is, even as a dangling link. */
static int present(const char *p)
{
	struct stat st;

	return lstat(p, &st) == 0;
}

/* Recursively links a's and b's entries into dst; a directory present in both
 * becomes a real directory merged the same way, anything else a symlink
 * (a's copy wins, as the arch tree's generated files must). What cannot be
 * read is skipped and a dangling link linked as it is: whether the result is
 * usable is missing_piece's call, not the merge's. */
static int merge(const char *dst, const char *a, const char *b)
{
	const char *srcs[2] = { a, b };
	int err = 0;

	if (mkdir(dst, 0755) && errno != EEXIST)
		return -errno;
	chmod(dst, 0755); /* whatever the umask: the tree is checked for group/other write */
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
			if (present(to))
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

/* What a farm of a and b is made from: the directories merge() turns into
 * real ones, with their identity and mtime (an entry added to or removed from
 * one of them changes it), so a changed source tree gets a new farm. */
static void describe(struct sha256_ctx *c, const char *a, const char *b, int depth)
{
	struct stat sa, sb;
	char line[2 * PATH_MAX + 128];
	struct dirent *e;
	DIR *d;

	if (stat(a, &sa) || stat(b, &sb) || depth > 32)
		return;
	snprintf(line, sizeof(line), "%s %llu:%llu:%lld.%ld %s %llu:%llu:%lld.%ld\n", a,
		 (unsigned long long)sa.st_dev, (unsigned long long)sa.st_ino, (long long)sa.st_mtim.tv_sec,
		 sa.st_mtim.tv_nsec, b, (unsigned long long)sb.st_dev, (unsigned long long)sb.st_ino,
		 (long long)sb.st_mtim.tv_sec, sb.st_mtim.tv_nsec);
	sha256_update(c, strlen(line), (const uint8_t *)line);
	d = opendir(a);
	if (!d)
		return;
	while ((e = readdir(d))) {
		char pa[PATH_MAX], pb[PATH_MAX];

		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		snprintf(pa, sizeof(pa), "%s/%s", a, e->d_name);
		snprintf(pb, sizeof(pb), "%s/%s", b, e->d_name);
		if (is_dir(pa) && is_dir(pb))
			describe(c, pa, pb, depth + 1);
	}
	closedir(d);
}

static int remove_entry(const char *p, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (type == FTW_DP)
		rmdir(p);
	else
		unlink(p);
	return 0;
}

/* Only for trees this process built: nftw without following links. */
static void remove_tree(const char *path)
{
	nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static uid_t walk_uid;
static char walk_bad[PATH_MAX + 64];

static int check_entry(const char *p, const struct stat *st, int type, struct FTW *ftw)
{
	(void)ftw;
	if (type == FTW_NS || type == FTW_DNR)
		snprintf(walk_bad, sizeof(walk_bad), "%s cannot be read", p);
	else if (st->st_uid != walk_uid)
		snprintf(walk_bad, sizeof(walk_bad), "%s is owned by uid %u", p, (unsigned)st->st_uid);
	else if (type != FTW_SL && (st->st_mode & (S_IWGRP | S_IWOTH)))
		snprintf(walk_bad, sizeof(walk_bad), "%s is writable by %s", p,
			 st->st_mode & S_IWOTH ? "everyone" : "its group");
	else if (!S_ISLNK(st->st_mode) && !S_ISDIR(st->st_mode) && !S_ISREG(st->st_mode))
		snprintf(walk_bad, sizeof(walk_bad), "%s is not a file, directory or link", p);
	else
		return 0;
	return 1;
}

/* 0 when path holds a tree made from `stamp` that only we could have written;
 * -ENOENT when there is none; -ENODATA when it lacks what the compiler needs;
 * else -EPERM; the reason is in bl_last_error. */
static int check_tree(const char *path, const char *stamp)
{
	char sp[PATH_MAX], got[4096], piece[64];
	struct stat st;
	size_t n = 0;
	FILE *f;

	if (lstat(path, &st))
		return -ENOENT;
	walk_uid = geteuid();
	walk_bad[0] = '\0';
	if (!S_ISDIR(st.st_mode))
		snprintf(walk_bad, sizeof(walk_bad), "%s is not a directory", path);
	else
		nftw(path, check_entry, 16, FTW_PHYS);
	if (walk_bad[0])
		return bl_error(-EPERM, "kernel header tree %s refused: %s", path, walk_bad);
	snprintf(sp, sizeof(sp), "%s/" STAMP, path);
	f = fopen(sp, "r");
	if (f) {
		n = fread(got, 1, sizeof(got) - 1, f);
		fclose(f);
	}
	got[n] = '\0';
	if (strcmp(got, stamp))
		return bl_error(-EPERM, "kernel header tree %s refused: its %s does not match", path, STAMP);
	if (missing_piece(path, NULL, piece, sizeof(piece)))
		return bl_error(-ENODATA, "kernel header tree %s has no %s", path, piece);
	return 0;
}

/* The private directory of this run, for trees when the cache cannot hold
 * them; removed at exit by the process that made it. */
static char private_dir[PATH_MAX];
static pid_t private_owner;

void bl_headers_cleanup(void)
{
	if (private_dir[0] && getpid() == private_owner) {
		remove_tree(private_dir);
		private_dir[0] = '\0';
	}
}

static int private_trees(char *out, size_t len)
{
	const char *tmp = getenv("TMPDIR");

	if (!private_dir[0]) {
		snprintf(private_dir, sizeof(private_dir), "%s/bpflua-run-XXXXXX", tmp && *tmp ? tmp : "/tmp");
		if (!mkdtemp(private_dir)) {
			int err = -errno;

			private_dir[0] = '\0';
			return bl_error(err, "cannot make a private directory for kernel headers in %s: %s",
					tmp && *tmp ? tmp : "/tmp", strerror(-err));
		}
		private_owner = getpid();
		atexit(bl_headers_cleanup);
	}
	snprintf(out, len, "%s", private_dir);
	return 0;
}

/* Trees left by runs that died while building: .build-PID-XXXXXX. */
static void sweep_builds(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	while (d && (e = readdir(d))) {
		char p[PATH_MAX];
		int pid;

		if (sscanf(e->d_name, ".build-%d-", &pid) != 1 || pid <= 0 || pid == getpid() ||
		    kill(pid, 0) == 0 || errno != ESRCH)
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
		remove_tree(p);
	}
	if (d)
		closedir(d);
}

typedef int (*build_fn)(const char *dst, const void *arg);

/* dir/name holding a tree made by build: the one there when it passes
 * check_tree, else built under a private name and published with one
 * rename. When another run publishes first, its tree is used; a published
 * tree is never removed, since someone may be compiling against it. */
static int tree_in(const char *dir, const char *name, const char *stamp, build_fn build, const void *arg,
		   char *out, size_t len)
{
	char tmp[PATH_MAX], sp[PATH_MAX];
	int err = 0;
	FILE *f;

	snprintf(out, len, "%s/%s", dir, name);
	for (int tries = 0; tries < 4; tries++) {
		err = check_tree(out, stamp);
		if (err != -ENOENT || tries == 3)
			break;
		if (tries == 0)
			sweep_builds(dir);
		snprintf(tmp, sizeof(tmp), "%s/.build-%d-XXXXXX", dir, (int)getpid());
		if (!mkdtemp(tmp))
			return bl_error(-errno, "cannot build a kernel header tree in %s: %s", dir, strerror(errno));
		err = build(tmp, arg);
		snprintf(sp, sizeof(sp), "%s/" STAMP, tmp);
		if (!err && (!(f = fopen(sp, "w")) || fputs(stamp, f) < 0 || fclose(f)))
			err = bl_error(-EIO, "cannot write %s", sp);
		if (!err && (chmod(tmp, 0755) || rename(tmp, out))) {
			if (errno != EEXIST && errno != ENOTEMPTY)
				err = bl_error(-errno, "cannot publish %s as %s: %s", tmp, out, strerror(errno));
			else
				err = -EAGAIN; /* another run published it first: use theirs */
		}
		if (err)
			remove_tree(tmp);
		if (err && err != -EAGAIN)
			return err;
		/* published, by us or another run: checked like any other */
	}
	return err == -ENOENT ? bl_error(-EAGAIN, "kernel header tree %s kept vanishing while bpflua built it", out)
			      : err;
}

/* The tree, in the cache when it is private, else in this run's own
 * directory, with a warning saying why the cache was not used. */
static int tree(const struct bl_headers_opts *o, const char *name, const char *stamp, build_fn build,
		const void *arg, char *out, size_t len)
{
	char dir[PATH_MAX];
	int err;

	if (o->cache_dir) {
		snprintf(dir, sizeof(dir), "%s/headers", o->cache_dir);
		err = bl_private_dir(o->cache_dir, 1);
		err = err ? err : bl_private_dir(dir, 1);
		err = err ? err : tree_in(dir, name, stamp, build, arg, out, len);
		if (!err || err == -ENODATA)
			return err; /* a tree without what the compiler needs is no better elsewhere */
		bl_warn("not using the kernel header cache: %s; building the tree in a private directory",
			bl_last_error());
	}
	err = private_trees(dir, sizeof(dir));
	return err ? err : tree_in(dir, name, stamp, build, arg, out, len);
}

struct pair {
	const char *arch, *common;
};

static int build_farm(const char *dst, const void *arg)
{
	const struct pair *p = arg;
	int err = merge(dst, p->arch, p->common);

	return err ? bl_error(err, "cannot merge %s and %s into %s: %s", p->arch, p->common, dst, strerror(-err))
		   : 0;
}

static void hex(const uint8_t *d, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		snprintf(out + 2 * i, 3, "%02x", d[i]);
}

/* The merged farm of a split tree; its name carries a hash of what it is made from. */
static int farm(const struct bl_headers_opts *o, const char *arch_dir, const char *common_dir, char *out,
		size_t len, char *id, size_t idlen)
{
	char arch[PATH_MAX], common[PATH_MAX], stamp[2 * PATH_MAX + 64], name[NAME_MAX], sum[17];
	const char *base;
	struct sha256_ctx c;
	uint8_t d[SHA256_DIGEST_SIZE];
	struct pair p = { arch, common };

	if (!realpath(arch_dir, arch) || !realpath(common_dir, common))
		return bl_error(-errno, "cannot resolve %s or %s: %s", arch_dir, common_dir, strerror(errno));
	base = strrchr(arch, '/') ? strrchr(arch, '/') + 1 : arch;
	snprintf(stamp, sizeof(stamp), "farm\n%s\n%s\n", arch, common);
	sha256_init(&c);
	sha256_update(&c, strlen(stamp), (const uint8_t *)stamp);
	describe(&c, arch, common, 0);
	sha256_digest(&c, sizeof(d), d);
	hex(d, 8, sum);
	snprintf(name, sizeof(name), "%.200s-%s", base, sum);
	snprintf(stamp + strlen(stamp), sizeof(stamp) - strlen(stamp), "%s\n", sum);
	snprintf(id, idlen, "%s", name);
	return tree(o, name, stamp, build_farm, &p, out, len);
}

/* Turns a candidate directory into a usable tree path, merging a split one;
 * a candidate that is there but unusable is noted with what it lacks. */
static int usable(const struct bl_headers_opts *o, const char *dir, struct bl_headers *h, char *notes,
		  size_t nlen)
{
	char common[PATH_MAX], piece[64];
	const char *miss;

	if (!is_dir(dir))
		return 0;
	if (!missing_piece(dir, NULL, piece, sizeof(piece))) {
		snprintf(h->path, sizeof(h->path), "%s", dir);
		snprintf(h->id, sizeof(h->id), "%s", dir);
		return 1;
	}
	if (!split_common(o->root, dir, common, sizeof(common))) {
		missing_piece(dir, NULL, piece, sizeof(piece));
		note(notes, nlen, "%s has no %s", dir, piece);
		return 0;
	}
	miss = missing_piece(dir, common, piece, sizeof(piece));
	if (miss) {
		note(notes, nlen, "%s (with %s) has no %s", dir, common, miss);
		return 0;
	}
	if (farm(o, dir, common, h->path, sizeof(h->path), h->id, sizeof(h->id))) {
		note(notes, nlen, "%s", bl_last_error());
		return 0;
	}
	return 1;
}

/* An archive entry's name stays below the directory it is extracted to. */
static int safe_entry_name(const char *name)
{
	if (!name || name[0] == '/')
		return 0;
	for (const char *p = name; (p = strstr(p, "..")); p += 2)
		if ((p == name || p[-1] == '/') && (p[2] == '/' || !p[2]))
			return 0;
	return 1;
}

/* The kernel's header archive, through libarchive: entries stay under dir
 * (no absolute names, no "..", nothing written through a link; dir itself
 * is resolved first, so only links the archive made count), owned by us
 * with the archive's modes less group/other write. */
static int untar(const char *archive, const char *dir)
{
	struct archive *in = archive_read_new(), *out = archive_write_disk_new();
	struct archive_entry *e;
	char root[PATH_MAX], path[PATH_MAX];
	int err = -ENOMEM, r;

	if (!in || !out)
		goto out;
	if (!realpath(dir, root)) {
		err = -errno;
		goto out;
	}
	archive_read_support_filter_all(in);
	archive_read_support_format_tar(in);
	archive_write_disk_set_options(out, ARCHIVE_EXTRACT_SECURE_SYMLINKS | ARCHIVE_EXTRACT_SECURE_NODOTDOT |
						    ARCHIVE_EXTRACT_PERM);
	err = -EIO;
	if (archive_read_open_filename(in, archive, 65536) != ARCHIVE_OK)
		goto out;
	while ((r = archive_read_next_header(in, &e)) == ARCHIVE_OK) {
		const void *buf;
		size_t len;
		la_int64_t off;

		if (!safe_entry_name(archive_entry_pathname(e)) ||
		    (archive_entry_hardlink(e) && !safe_entry_name(archive_entry_hardlink(e)))) {
			bl_warn("%s: entry %s leaves the tree", archive, archive_entry_pathname(e));
			goto out;
		}
		snprintf(path, sizeof(path), "%s/%s", root, archive_entry_pathname(e));
		archive_entry_set_pathname(e, path);
		if (archive_entry_hardlink(e)) {
			snprintf(path, sizeof(path), "%s/%s", root, archive_entry_hardlink(e));
			archive_entry_set_hardlink(e, path);
		}
		archive_entry_set_perm(e, archive_entry_perm(e) & 0755);
		if (archive_write_header(out, e) != ARCHIVE_OK)
			goto out;
		while ((r = archive_read_data_block(in, &buf, &len, &off)) == ARCHIVE_OK)
			if (archive_write_data_block(out, buf, len, off) != ARCHIVE_OK)
				goto out;
		if (r != ARCHIVE_EOF || archive_write_finish_entry(out) != ARCHIVE_OK)
			goto out;
	}
	err = r == ARCHIVE_EOF ? 0 : -EIO;
out:
	if (err == -EIO)
		bl_verbose("%s: %s", archive, archive_error_string(in) ? archive_error_string(in)
					      : archive_error_string(out) ? archive_error_string(out) : "?");
	archive_read_free(in);
	archive_write_free(out);
	return err;
}

static int build_kheaders(const char *dst, const void *arg)
{
	int err = untar(arg, dst);

	return err ? bl_error(err, "cannot extract %s into %s", (const char *)arg, dst) : 0;
}

static int kheaders(const struct bl_headers_opts *o, struct bl_headers *h)
{
	char archive[PATH_MAX], name[NAME_MAX], stamp[PATH_MAX + 512], sum[17];
	struct sha256_ctx c;
	struct utsname u;
	struct stat st;
	uint8_t d[SHA256_DIGEST_SIZE];

	snprintf(archive, sizeof(archive), "%s/sys/kernel/kheaders.tar.xz", o->root);
	if (access(archive, R_OK) || stat(archive, &st))
		return 0;
	uname(&u);
	snprintf(stamp, sizeof(stamp), "kheaders\n%s\n%s\n%s\n%lld\n", archive, o->release, u.version,
		 (long long)st.st_size);
	sha256_init(&c);
	sha256_update(&c, strlen(stamp), (const uint8_t *)stamp);
	sha256_digest(&c, sizeof(d), d);
	hex(d, 8, sum);
	snprintf(name, sizeof(name), "kheaders-%.100s-%s", o->release, sum);
	if (tree(o, name, stamp, build_kheaders, archive, h->path, sizeof(h->path))) {
		note(h->rejected, sizeof(h->rejected), "%s", bl_last_error());
		return 0;
	}
	snprintf(h->id, sizeof(h->id), "%s", name);
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

static int nearest(const struct bl_headers_opts *o, struct bl_headers *h, char *notes, size_t nlen)
{
	static const char *const dirs[] = { "/lib/modules", "/usr/src" };
	struct bl_headers c;
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
			char cand[PATH_MAX];
			const char *rel = release_of(e->d_name);
			size_t n = strlen(e->d_name);
			int dist;

			if (e->d_name[0] == '.' || rel[0] < '0' || rel[0] > '9')
				continue;
			/* Debian's -common half is never a tree on its own */
			if (i == 1 && n > 7 && !strcmp(e->d_name + n - 7, "-common"))
				continue;
			if (i == 0)
				snprintf(cand, sizeof(cand), "%s/%s/build", dir, e->d_name);
			else
				snprintf(cand, sizeof(cand), "%s/%s", dir, e->d_name);
			dist = bl_release_distance(rel, o->release);
			if (best >= 0 && dist >= best)
				continue;
			if (!usable(o, cand, &c, notes, nlen))
				continue;
			best = dist;
			snprintf(h->path, sizeof(h->path), "%s", c.path);
			snprintf(h->id, sizeof(h->id), "%s", c.id);
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
	static const char *const own[] = { "build", "source" };
	const char *env = getenv("BCC_KERNEL_SOURCE");
	char dir[PATH_MAX], others[1024] = "";

	memset(h, 0, sizeof(*h));
	if (env && *env) {
		snprintf(h->path, sizeof(h->path), "%s", env);
		snprintf(h->id, sizeof(h->id), "%s", env);
		snprintf(h->source, sizeof(h->source), "%s", env);
		snprintf(h->version, sizeof(h->version), "%s", o->release);
		h->how = BL_HEADERS_ENV;
		return 0;
	}
	for (size_t i = 0; i < 2; i++) {
		snprintf(dir, sizeof(dir), "%s/lib/modules/%s/%s", o->root, o->release, own[i]);
		/* "source" is the same tree's other half when "build" was there */
		if (i == 1 && h->rejected[0])
			break;
		if (usable(o, dir, h, h->rejected, sizeof(h->rejected))) {
			snprintf(h->source, sizeof(h->source), "%s", dir);
			snprintf(h->version, sizeof(h->version), "%s", o->release);
			h->how = BL_HEADERS_EXACT;
			return 0;
		}
	}
	if (kheaders(o, h) || nearest(o, h, others, sizeof(others)))
		return 0;
	if (h->rejected[0])
		return bl_error(-ENOENT,
				"no usable kernel headers for %s: %s; repair that tree (reinstall its "
				"package), or set BCC_KERNEL_SOURCE to a complete tree",
				o->release, h->rejected);
	return bl_error(-ENOENT,
			"no kernel headers found for %s: install linux-headers-%s (or the nearest "
			"linux-headers-* package, e.g. linux-headers-amd64 on Debian), or build the "
			"kernel with CONFIG_IKHEADERS%s%s",
			o->release, o->release, others[0] ? "; also unusable: " : "", others);
}

static struct bl_headers host;

const char *bl_headers_rejected(void)
{
	return host.rejected;
}

const struct bl_headers *bl_headers_host(void)
{
	static int state; /* 0 not asked, 1 found, -1 none */
	struct utsname un;

	if (state)
		return state > 0 ? &host : NULL;
	uname(&un);
	/* --no-cache: nothing is read from or written to the cache directory */
	struct bl_headers_opts o = { .root = "", .release = un.release,
				     .cache_dir = bl_cache_enabled ? bl_cache_dir() : NULL };

	if (bl_headers_find(&o, &host)) {
		state = -1;
		return NULL;
	}
	state = 1;
	if (host.how == BL_HEADERS_NEAREST)
		bl_warn("no %skernel headers for the running kernel %s%s%s%s; using %s from %s "
			"(struct layouts may differ; tracepoint fields are read from tracefs)",
			host.rejected[0] ? "usable " : "", un.release, host.rejected[0] ? " (" : "", host.rejected,
			host.rejected[0] ? ")" : "", host.version, host.source);
	else if (host.how == BL_HEADERS_KHEADERS)
		bl_verbose("kernel headers from %s", host.source);
	return &host;
}
