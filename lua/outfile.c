/* -o PATH: where a report goes, without harming what is at PATH.
 *
 * - nothing there, or a regular file: written to an unnamed file in the same
 *   directory (O_TMPFILE; a named temporary where the filesystem has none),
 *   checked, synced and renamed over PATH in one step on success. A
 *   replaced file keeps its mode and owner. On failure, or when bpflua is
 *   killed, PATH is untouched and no temporary stays behind (an O_TMPFILE
 *   vanishes with the process).
 * - a device, FIFO or symbolic link (/dev/null, /dev/stdout, a pipe): written
 *   through in place, as the shell's > does; replacing it would turn a device
 *   node into a file.
 * - a directory: an error before anything is created.
 * Every failed write, sync or close is an error naming PATH, and a report
 * that was not written whole is never renamed into place. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lbpflua.h"

#define OUTFILE_MT "bpflua.OutputFile"
#define OUT_BUFSZ 65536

enum how { THROUGH, UNNAMED, NAMED };

struct outfile {
	int fd, dirfd;
	enum how how;
	char path[PATH_MAX];
	char base[NAME_MAX + 1];
	char tmp[NAME_MAX + 1]; /* NAMED: the temporary's name in dirfd */
	size_t n;
	char buf[OUT_BUFSZ];
};

static int out_fail(lua_State *L, struct outfile *o, const char *what, int err)
{
	return bl_lua_raise(L, "failed", "cannot %s %s: %s", what, o->path, strerror(err));
}

static int flush_buf(struct outfile *o)
{
	size_t off = 0;

	while (off < o->n) {
		ssize_t w = write(o->fd, o->buf + off, o->n - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return w < 0 ? -errno : -EIO;
		off += (size_t)w;
	}
	o->n = 0;
	return 0;
}

/* Closes everything; a named temporary is removed unless it was renamed. */
static void release(struct outfile *o)
{
	if (o->fd >= 0)
		close(o->fd);
	if (o->how == NAMED && o->tmp[0] && o->dirfd >= 0)
		unlinkat(o->dirfd, o->tmp, 0);
	if (o->dirfd >= 0)
		close(o->dirfd);
	o->fd = o->dirfd = -1;
	o->tmp[0] = 0;
}

static void temp_name(struct outfile *o, unsigned attempt)
{
	snprintf(o->tmp, sizeof(o->tmp), ".%.200s.bpflua-%d-%u", o->base, (int)getpid(), attempt);
}

/* An unnamed file in the target's directory, or a named one where the
 * filesystem cannot make unnamed files. */
static int open_temp(struct outfile *o, const struct stat *old)
{
	mode_t mode = old ? (old->st_mode & 07777) : 0666;

	o->fd = openat(o->dirfd, ".", O_TMPFILE | O_WRONLY | O_CLOEXEC, mode);
	if (o->fd >= 0) {
		o->how = UNNAMED;
	} else if (errno == EOPNOTSUPP || errno == EISDIR || errno == EINVAL) {
		o->how = NAMED;
		for (unsigned i = 0; i < 100 && o->fd < 0; i++) {
			temp_name(o, i);
			o->fd = openat(o->dirfd, o->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
			if (o->fd < 0 && errno != EEXIST)
				break;
		}
		if (o->fd < 0) {
			o->tmp[0] = 0;
			return -errno;
		}
	} else {
		return -errno;
	}
	if (old) { /* a replaced file keeps its mode (past the umask) and owner */
		if (fchmod(o->fd, mode))
			return -errno;
		if (fchown(o->fd, old->st_uid, old->st_gid) && errno != EPERM)
			return -errno;
	}
	return 0;
}

/* BPF.open_output(path) -> file with :write(s), :close(commit), :how() */
static int l_open_output(lua_State *L)
{
	size_t len;
	const char *path = luaL_checklstring(L, 1, &len);
	struct outfile *o;
	struct stat st, target;
	char dir[PATH_MAX], base[PATH_MAX];
	int err, exists;

	if (!len || len >= PATH_MAX)
		return luaL_argerror(L, 1, len ? "path too long" : "empty path");
	o = lua_newuserdatauv(L, sizeof(*o), 0);
	o->fd = o->dirfd = -1;
	o->how = THROUGH;
	o->n = 0;
	o->tmp[0] = 0;
	memcpy(o->path, path, len + 1);
	luaL_setmetatable(L, OUTFILE_MT);

	exists = lstat(path, &st) == 0;
	if (!exists && errno != ENOENT)
		return out_fail(L, o, "write", errno);
	if (exists && S_ISLNK(st.st_mode) && stat(path, &target) == 0 && S_ISDIR(target.st_mode))
		return out_fail(L, o, "write to", EISDIR);
	if (exists && S_ISDIR(st.st_mode))
		return out_fail(L, o, "write to", EISDIR);
	if (exists && !S_ISREG(st.st_mode)) {
		o->how = THROUGH;
		o->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOCTTY, 0666);
		if (o->fd < 0)
			return out_fail(L, o, "write", errno);
		return 1;
	}
	memcpy(dir, path, len + 1);
	memcpy(base, path, len + 1);
	snprintf(o->base, sizeof(o->base), "%s", basename(base));
	if (!o->base[0] || !strcmp(o->base, ".") || !strcmp(o->base, "..") || path[len - 1] == '/')
		return out_fail(L, o, "write to", EISDIR);
	o->dirfd = open(dirname(dir), O_DIRECTORY | O_PATH | O_CLOEXEC);
	if (o->dirfd < 0)
		return out_fail(L, o, "write", errno);
	err = open_temp(o, exists ? &st : NULL);
	if (err) {
		release(o);
		return out_fail(L, o, "write", -err);
	}
	return 1;
}

static struct outfile *check_open(lua_State *L)
{
	struct outfile *o = luaL_checkudata(L, 1, OUTFILE_MT);

	if (o->fd < 0)
		luaL_error(L, "%s: the output file is closed", o->path);
	return o;
}

static int f_write(lua_State *L)
{
	struct outfile *o = check_open(L);
	int top = lua_gettop(L);

	for (int i = 2; i <= top; i++) {
		size_t len;
		const char *s = luaL_checklstring(L, i, &len);

		while (len) {
			size_t k = OUT_BUFSZ - o->n < len ? OUT_BUFSZ - o->n : len;
			int err;

			memcpy(o->buf + o->n, s, k);
			o->n += k;
			s += k;
			len -= k;
			if (o->n == OUT_BUFSZ && (err = flush_buf(o)))
				return out_fail(L, o, "write", -err);
		}
	}
	return 0;
}

/* Puts the finished file in place: the name appears only once the whole
 * report is on disk. */
static int publish(struct outfile *o)
{
	char proc[64];

	if (o->how == UNNAMED) {
		snprintf(proc, sizeof(proc), "/proc/self/fd/%d", o->fd);
		for (unsigned i = 0;; i++) {
			temp_name(o, i);
			if (!linkat(AT_FDCWD, proc, o->dirfd, o->tmp, AT_SYMLINK_FOLLOW))
				break;
			if (errno != EEXIST || i == 100) {
				o->tmp[0] = 0;
				return -errno;
			}
		}
		o->how = NAMED; /* from here on, a failure removes the name */
	}
	if (renameat(o->dirfd, o->tmp, o->dirfd, o->base))
		return -errno;
	o->tmp[0] = 0;
	return 0;
}

/* f:close(commit): commit = true publishes the report, false discards it.
 * Raises on any failure; the file is closed either way. */
static int f_close(lua_State *L)
{
	struct outfile *o = luaL_checkudata(L, 1, OUTFILE_MT);
	int commit = lua_toboolean(L, 2);
	int err = 0;
	const char *what = "write";

	if (o->fd < 0)
		return 0;
	if (commit || o->how == THROUGH) /* what went through stays through */
		err = flush_buf(o);
	o->n = 0;
	if (commit && !err && o->how != THROUGH && fsync(o->fd))
		err = -errno;
	if (commit && !err && o->how != THROUGH) {
		what = "replace";
		err = publish(o);
	}
	if (close(o->fd) && !err && commit) {
		err = -errno;
		what = "write";
	}
	o->fd = -1;
	release(o);
	if (err && commit)
		return out_fail(L, o, what, -err);
	return 0;
}

static int f_gc(lua_State *L)
{
	struct outfile *o = luaL_checkudata(L, 1, OUTFILE_MT);

	o->n = 0;
	release(o);
	return 0;
}

/* "through", or "replace" for a file written aside and renamed */
static int f_how(lua_State *L)
{
	struct outfile *o = luaL_checkudata(L, 1, OUTFILE_MT);

	lua_pushstring(L, o->how == THROUGH ? "through" : "replace");
	return 1;
}

void bl_lua_outfile_open(lua_State *L)
{
	static const luaL_Reg methods[] = {
		{ "write", f_write }, { "close", f_close }, { "how", f_how }, { NULL, NULL },
	};
	static const luaL_Reg funcs[] = {
		{ "open_output", l_open_output },
		{ NULL, NULL },
	};

	static const luaL_Reg meta[] = { { "__gc", f_gc }, { "__close", f_gc }, { NULL, NULL } };

	bl_lua_class(L, OUTFILE_MT, meta, methods);
	luaL_setfuncs(L, funcs, 0);
}
