#include "paths.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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
		if (mkdir(buf, 0755) && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(buf, mode) && errno != EEXIST)
		return -errno;
	return 0;
}

static const char *data_subdir(char *buf, size_t len, const char *sub)
{
	const char *env = getenv("BPFLUA_DATA_DIR");

	if (!buf[0])
		snprintf(buf, len, "%s/%s", env && *env ? env : BPFLUA_DATA_DIR, sub);
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
