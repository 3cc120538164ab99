#include "paths.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"

#ifndef BPFLUA_DATA_DIR
#error "BPFLUA_DATA_DIR must name the directory holding lua/, probes/ and scripts/"
#endif

const char *bl_cache_dir(void)
{
	static char dir[PATH_MAX];
	const char *env;

	if (dir[0])
		return dir;
	if ((env = getenv("BPFLUA_CACHE_DIR")) && *env)
		snprintf(dir, sizeof(dir), "%s", env);
	else if ((env = getenv("XDG_CACHE_HOME")) && *env)
		snprintf(dir, sizeof(dir), "%s/bpflua", env);
	else if ((env = getenv("HOME")) && *env)
		snprintf(dir, sizeof(dir), "%s/.cache/bpflua", env);
	else
		snprintf(dir, sizeof(dir), "/var/cache/bpflua");
	return dir;
}

int bl_mkdir_p(const char *path, mode_t mode)
{
	char buf[PATH_MAX];
	size_t len = strlen(path);

	if (len >= sizeof(buf))
		return -ENAMETOOLONG;
	memcpy(buf, path, len + 1);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) == 0)
			chmod(buf, 0755);
		else if (errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(buf, mode) == 0)
		chmod(buf, mode);
	else if (errno != EEXIST)
		return -errno;
	return 0;
}

/* Every directory above path: only root or we may change it, unless sticky. */
static int check_ancestors(const char *path)
{
	char buf[PATH_MAX];
	struct stat st;
	char *slash;

	snprintf(buf, sizeof(buf), "%s", path);
	while ((slash = strrchr(buf, '/')) != NULL) {
		const char *p = slash == buf ? "/" : buf;

		slash[slash == buf] = '\0';
		if (lstat(p, &st))
			return bl_error(-errno, "cannot check %s, above %s: %s", p, path, strerror(errno));
		if (S_ISLNK(st.st_mode))
			continue; /* its target's chain is checked through realpath */
		if (st.st_uid != 0 && st.st_uid != geteuid())
			return bl_error(-EPERM, "%s, above %s, is owned by uid %u, who could replace what is below it",
					p, path, (unsigned)st.st_uid);
		if ((st.st_mode & (S_IWGRP | S_IWOTH)) && !(st.st_mode & S_ISVTX))
			return bl_error(-EPERM, "%s, above %s, is writable by %s, who could replace what is below it",
					p, path, st.st_mode & S_IWOTH ? "everyone" : "its group");
		if (slash == buf)
			break;
	}
	return 0;
}

int bl_private_dir(const char *dir, int create)
{
	char real[PATH_MAX];
	struct stat st;
	int err;

	if (create && (err = bl_mkdir_p(dir, 0700)))
		return bl_error(err, "cannot create %s: %s", dir, strerror(-err));
	if (!realpath(dir, real) || stat(real, &st))
		return bl_error(-errno, "cannot use %s: %s", dir, strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return bl_error(-ENOTDIR, "%s is not a directory", dir);
	if (st.st_uid != geteuid())
		return bl_error(-EPERM, "%s is owned by uid %u, not by uid %u that runs bpflua (remove it, or set "
					"BPFLUA_CACHE_DIR to a directory of your own)",
				dir, (unsigned)st.st_uid, (unsigned)geteuid());
	if (st.st_mode & (S_IWGRP | S_IWOTH))
		return bl_error(-EPERM, "%s is writable by %s (fix it with: chmod go-w %s)", dir,
				st.st_mode & S_IWOTH ? "everyone" : "its group", dir);
	err = dir[0] == '/' ? check_ancestors(dir) : 0;
	return err ? err : check_ancestors(real);
}

#ifndef BPFLUA_REL_DATA_DIR
#define BPFLUA_REL_DATA_DIR "../share/bpflua" /* from the binary's directory, as installed */
#endif

/* An installed tree beside the running binary (BIN/../share/bpflua), so an
 * install works from any directory, under DESTDIR or moved whole. Only one
 * that root or we own and nobody else may write: bpflua runs as root, and
 * a copy of the binary in someone's directory must not run their Lua. */
static int installed_root(char *root, size_t len)
{
	static const char *const dirs[] = { "", "/lua", "/lua/bpflua", "/probes", "/scripts" };
	char exe[PATH_MAX], lib[PATH_MAX + 64];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	struct stat st;
	char *slash;

	if (n <= 0)
		return 0;
	exe[n] = '\0';
	if (!(slash = strrchr(exe, '/')))
		return 0;
	*slash = '\0';
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		snprintf(lib, sizeof(lib), "%s/%s%s", exe, BPFLUA_REL_DATA_DIR, dirs[i]);
		if (stat(lib, &st) || !S_ISDIR(st.st_mode) || (st.st_uid != 0 && st.st_uid != geteuid()) ||
		    (st.st_mode & (S_IWGRP | S_IWOTH)))
			return 0;
	}
	snprintf(lib, sizeof(lib), "%s/%s", exe, BPFLUA_REL_DATA_DIR);
	return realpath(lib, root) && strlen(root) < len;
}

/* lua/, probes/ and scripts/: BPFLUA_DATA_DIR, else an installed tree
 * beside the binary, else the source tree it was built from */
static const char *data_root(void)
{
	static char root[PATH_MAX];
	const char *env = getenv("BPFLUA_DATA_DIR");

	if (root[0])
		return root;
	if (env && *env)
		snprintf(root, sizeof(root), "%s", env);
	else if (!installed_root(root, sizeof(root)))
		snprintf(root, sizeof(root), "%s", BPFLUA_DATA_DIR);
	return root;
}

static const char *data_subdir(char *buf, size_t len, const char *sub)
{
	if (!buf[0])
		snprintf(buf, len, "%s/%s", data_root(), sub);
	return buf;
}

const char *bl_lua_dir(void)
{
	static char d[PATH_MAX];

	return data_subdir(d, sizeof(d), "lua");
}

const char *bl_probes_dir(void)
{
	static char d[PATH_MAX];

	return data_subdir(d, sizeof(d), "probes");
}

const char *bl_scripts_dir(void)
{
	static char d[PATH_MAX];

	return data_subdir(d, sizeof(d), "scripts");
}
