#include "error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static char last_error[8192];
static int last_errno;
int bl_verbose_level;

int bl_error(int err, const char *fmt, ...)
{
	va_list ap;

	last_errno = err;
	va_start(ap, fmt);
	vsnprintf(last_error, sizeof(last_error), fmt, ap);
	va_end(ap);
	return err;
}

const char *bl_last_error(void)
{
	return last_error[0] ? last_error : "unknown error";
}

int bl_last_errno(void)
{
	return last_errno;
}

void bl_clear_error(void)
{
	last_error[0] = '\0';
	last_errno = 0;
}

/* A warning such as "using mismatched headers" is printed by every compile;
 * users need to read it once per run, not once per program. */
void bl_warn(const char *fmt, ...)
{
	static char seen[16][512];
	static int nseen;
	char buf[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	for (int i = 0; i < nseen; i++)
		if (!strcmp(seen[i], buf))
			return;
	if (nseen < 16)
		memcpy(seen[nseen++], buf, sizeof(buf));
	fprintf(stderr, "bpflua: warning: %s\n", buf);
}

void bl_verbose(const char *fmt, ...)
{
	va_list ap;

	if (!bl_verbose_level)
		return;
	va_start(ap, fmt);
	fputs("bpflua: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}
