#include "cache.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <nettle/sha2.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "error.h"
#include "kernel.h"
#include "paths.h"
#include "serialize.h"

#ifndef BPFLUA_LIBBCC
#define BPFLUA_LIBBCC "libbcc.so.0"
#endif

#define ENTRY_MAGIC "BPFLUAC\n"
#define ENTRY_VERSION 2

struct entry_header {
	char magic[8];
	uint32_t version;
	uint32_t reserved;
	uint64_t len;                         /* payload bytes */
	uint8_t sum[SHA256_DIGEST_SIZE];      /* of version, len, key and payload */
	uint8_t key[SHA256_DIGEST_SIZE];      /* the key it was stored under */
};

int bl_cache_hits, bl_cache_misses;
int bl_cache_enabled = 1;

static void hash_str(struct sha256_ctx *c, const char *tag, const char *s)
{
	/* tagged and length-prefixed: no two inputs run together the same way */
	uint64_t n = s ? strlen(s) : UINT64_MAX;

	sha256_update(c, strlen(tag) + 1, (const uint8_t *)tag);
	sha256_update(c, sizeof(n), (const uint8_t *)&n);
	if (s)
		sha256_update(c, (size_t)n, (const uint8_t *)s);
}

static void hash_file(struct sha256_ctx *c, const char *tag, const char *path)
{
	char buf[8192];
	FILE *f = fopen(path, "r");
	size_t n;

	hash_str(c, tag, path);
	if (!f) {
		hash_str(c, "missing", NULL);
		return;
	}
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		sha256_update(c, n, (const uint8_t *)buf);
	fclose(f);
}

/* The tracepoints a program names, by TRACEPOINT_PROBE(cat, name) or by a
 * tracepoint__cat__name function: libbcc reads their formats to lay out
 * `args`, so a changed format must miss. */
static void hash_tracepoints(struct sha256_ctx *c, const char *text)
{
	const char *tracefs = bl_features()->tracefs;
	const char *p = text;

	while (tracefs && (p = strstr(p, "TRACEPOINT_PROBE(")) != NULL) {
		char cat[64], name[128], path[PATH_MAX];

		p += strlen("TRACEPOINT_PROBE(");
		if (sscanf(p, " %63[A-Za-z0-9_] , %127[A-Za-z0-9_]", cat, name) == 2) {
			snprintf(path, sizeof(path), "%s/events/%s/%s/format", tracefs, cat, name);
			hash_file(c, "tracepoint", path);
		}
	}
	for (p = text; tracefs && (p = strstr(p, "tracepoint__")) != NULL;) {
		char both[200], path[PATH_MAX];
		char *sep;

		p += strlen("tracepoint__");
		if (sscanf(p, "%199[A-Za-z0-9_]", both) != 1 || !(sep = strstr(both, "__")))
			continue;
		*sep = '\0';
		snprintf(path, sizeof(path), "%s/events/%s/%s/format", tracefs, both, sep + 2);
		hash_file(c, "tracepoint", path);
	}
}

int bl_cache_key(const struct bl_compile_opts *co, const struct bl_headers *h, char key[BL_CACHE_KEY_HEX])
{
	struct sha256_ctx c;
	struct utsname u;
	struct stat st;
	char lib[PATH_MAX], num[64];
	uint8_t d[SHA256_DIGEST_SIZE];

	sha256_init(&c);
	hash_str(&c, "bpflua", BPFLUA_VERSION);
	hash_str(&c, "text", co->text);
	for (int i = 0; i < co->ncflags; i++)
		hash_str(&c, "cflag", co->cflags[i]);
	if (!realpath(BPFLUA_LIBBCC, lib))
		snprintf(lib, sizeof(lib), "%s", BPFLUA_LIBBCC);
	hash_str(&c, "libbcc", lib);
	if (!stat(lib, &st)) {
		snprintf(num, sizeof(num), "%lld/%lld", (long long)st.st_size, (long long)st.st_mtime);
		hash_str(&c, "libbcc-stat", num);
	}
	if (!uname(&u)) {
		hash_str(&c, "release", u.release);
		hash_str(&c, "build", u.version);
		hash_str(&c, "machine", u.machine);
	}
	/* what the tree was made from, not where it lies: a tree built in a
	 * private directory compiles the same as its cached twin */
	hash_str(&c, "headers", h ? h->id : NULL);
	hash_str(&c, "headers-version", h ? h->version : NULL);
	hash_str(&c, "headers-source", h ? h->source : NULL);
	hash_tracepoints(&c, co->text);
	sha256_digest(&c, sizeof(d), d);
	for (size_t i = 0; i < sizeof(d); i++)
		snprintf(key + 2 * i, 3, "%02x", d[i]);
	return 0;
}

static int unhex(const char *key, uint8_t out[SHA256_DIGEST_SIZE])
{
	for (int i = 0; i < SHA256_DIGEST_SIZE; i++) {
		unsigned v;

		if (sscanf(key + 2 * i, "%2x", &v) != 1)
			return -EINVAL;
		out[i] = (uint8_t)v;
	}
	return 0;
}

/* Ours and writable by us alone. */
static int safe_mode(const struct stat *st)
{
	return st->st_uid == geteuid() && !(st->st_mode & (S_IWGRP | S_IWOTH));
}

/* sum = sha256(version, len, key, payload): an entry's header cannot be
 * edited to pass for another key, length or format. */
static void entry_sum(const struct entry_header *hd, const unsigned char *payload, uint8_t out[SHA256_DIGEST_SIZE])
{
	struct sha256_ctx c;

	sha256_init(&c);
	sha256_update(&c, sizeof(hd->version), (const uint8_t *)&hd->version);
	sha256_update(&c, sizeof(hd->len), (const uint8_t *)&hd->len);
	sha256_update(&c, sizeof(hd->key), hd->key);
	sha256_update(&c, hd->len, payload);
	sha256_digest(&c, SHA256_DIGEST_SIZE, out);
}

const char *bl_cache_programs_path(void)
{
	static char dir[PATH_MAX];

	if (!dir[0])
		snprintf(dir, sizeof(dir), "%s/programs", bl_cache_dir());
	return dir;
}

/* The cache directory and programs/ in it, both private (bl_private_dir);
 * made when create is set. */
static int programs_dir(int create)
{
	const char *dir = bl_cache_programs_path();
	int err = bl_private_dir(bl_cache_dir(), create);

	return err ? err : bl_private_dir(dir, create);
}

const char *bl_cache_programs_dir(void)
{
	static int state; /* 0 unchecked, 1 good, -1 refused */

	if (state)
		return state > 0 ? bl_cache_programs_path() : NULL;
	state = -1;
	if (programs_dir(1)) {
		bl_warn("the program cache is off: %s", bl_last_error());
		return NULL;
	}
	state = 1;
	return bl_cache_programs_path();
}

static int entry_path(const char *key, char *path, size_t len)
{
	const char *dir = bl_cache_programs_dir();

	if (!dir)
		return -EACCES;
	if (strlen(key) != 64 || strspn(key, "0123456789abcdef") != 64)
		return -EINVAL;
	snprintf(path, len, "%s/%s", dir, key);
	return 0;
}

static int refuse(const char *path, int err, const char *why)
{
	unlink(path);
	return bl_error(err, "cached program %s refused (%s); compiling it again", path, why);
}

int bl_cache_get(const char *key, struct bl_object **out)
{
	char path[PATH_MAX];
	struct entry_header hd;
	struct stat st;
	uint8_t sum[SHA256_DIGEST_SIZE], want_key[SHA256_DIGEST_SIZE];
	unsigned char *buf = NULL;
	int fd, err;

	*out = NULL;
	err = entry_path(key, path, sizeof(path));
	if (err)
		return -ENOENT;
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? -ENOENT : refuse(path, -EPERM, "cannot open it, or it is a symbolic link");
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		err = refuse(path, -EPERM, "not a regular file");
		goto out;
	}
	if (!safe_mode(&st)) {
		err = refuse(path, -EPERM, st.st_uid != geteuid() ? "owned by another user" : "writable by others");
		goto out;
	}
	if (st.st_size < (off_t)sizeof(hd) || pread(fd, &hd, sizeof(hd), 0) != (ssize_t)sizeof(hd) ||
	    memcmp(hd.magic, ENTRY_MAGIC, 8)) {
		err = refuse(path, -EBADMSG, "truncated or not a cache entry");
		goto out;
	}
	if (hd.version != ENTRY_VERSION) {
		unlink(path); /* another bpflua's format: a miss, not an alarm */
		err = -ENOENT;
		goto out;
	}
	if (hd.len != (uint64_t)st.st_size - sizeof(hd)) {
		err = refuse(path, -EBADMSG, "truncated or not a cache entry");
		goto out;
	}
	unhex(key, want_key);
	if (memcmp(hd.key, want_key, sizeof(want_key))) {
		err = refuse(path, -EBADMSG, "stored under another key");
		goto out;
	}
	buf = malloc(hd.len ? hd.len : 1);
	if (!buf || pread(fd, buf, hd.len, sizeof(hd)) != (ssize_t)hd.len) {
		err = refuse(path, -EIO, "cannot read it");
		goto out;
	}
	entry_sum(&hd, buf, sum);
	if (memcmp(sum, hd.sum, sizeof(sum))) {
		err = refuse(path, -EBADMSG, "checksum mismatch");
		goto out;
	}
	if (bl_object_decode(buf, hd.len, out)) {
		err = refuse(path, -EBADMSG, "unreadable contents");
		goto out;
	}
	err = 0;
out:
	free(buf);
	close(fd);
	return err;
}

int bl_cache_put(const char *key, const struct bl_object *obj)
{
	char path[PATH_MAX], tmp[PATH_MAX + 32];
	struct entry_header hd = { 0 };
	unsigned char *buf = NULL;
	size_t len = 0;
	int fd, err;

	err = entry_path(key, path, sizeof(path));
	if (err)
		return err;
	err = bl_object_encode(obj, &buf, &len);
	if (err)
		return err;
	memcpy(hd.magic, ENTRY_MAGIC, 8);
	hd.version = ENTRY_VERSION;
	hd.len = len;
	unhex(key, hd.key);
	entry_sum(&hd, buf, hd.sum);
	snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid());
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		err = -errno;
		goto out;
	}
	if (write(fd, &hd, sizeof(hd)) != (ssize_t)sizeof(hd) || write(fd, buf, len) != (ssize_t)len) {
		err = -EIO;
		close(fd);
		unlink(tmp);
		goto out;
	}
	close(fd);
	if (rename(tmp, path)) {
		err = -errno;
		unlink(tmp);
	}
out:
	free(buf);
	if (err)
		bl_warn("cannot store the compiled program in the cache: %s", strerror(-err));
	return err;
}

/* Lists without making anything: a missing cache is an empty one. */
int bl_cache_list(void (*fn)(const struct bl_cache_entry *e, void *arg), void *arg)
{
	const char *dir = bl_cache_programs_path();
	struct dirent *de;
	DIR *d;
	int n = 0, err = programs_dir(0);

	if (err == -ENOENT)
		return 0;
	if (err) {
		char why[512];

		snprintf(why, sizeof(why), "%s", bl_last_error());
		return bl_error(err, "cannot use the program cache: %s", why);
	}
	d = opendir(dir);
	if (!d)
		return bl_error(-errno, "cannot read the program cache %s: %s", dir, strerror(errno));
	while ((de = readdir(d))) {
		struct bl_cache_entry e = { 0 };
		struct stat st;

		if (strlen(de->d_name) != 64 || strspn(de->d_name, "0123456789abcdef") != 64)
			continue;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW))
			continue;
		memcpy(e.key, de->d_name, 65);
		e.size = (size_t)st.st_size;
		e.mtime = st.st_mtime;
		if (fn)
			fn(&e, arg);
		n++;
	}
	closedir(d);
	return n;
}

static void remove_entry(const struct bl_cache_entry *e, void *arg)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", bl_cache_programs_path(), e->key);
	if (!unlink(path))
		(*(int *)arg)++;
}

int bl_cache_clear(void)
{
	int removed = 0, err = bl_cache_list(remove_entry, &removed);

	return err < 0 ? err : removed;
}

int bl_cache_compile(const struct bl_compile_opts *co, const struct bl_headers *h, int use_cache,
		     struct bl_object **out)
{
	char key[BL_CACHE_KEY_HEX];
	int err;

	*out = NULL;
	use_cache = use_cache && bl_cache_enabled && bl_cache_programs_dir();
	if (use_cache) {
		bl_cache_key(co, h, key);
		err = bl_cache_get(key, out);
		if (!err) {
			bl_cache_hits++;
			bl_verbose("program cache hit: %s", key);
			return 0;
		}
		if (err != -ENOENT)
			bl_warn("%s", bl_last_error());
	}
	bl_cache_misses++;
	err = bl_compile_in_child(co, out);
	if (err)
		return err;
	if (use_cache)
		bl_cache_put(key, *out);
	return 0;
}
