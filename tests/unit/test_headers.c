/* Header discovery over prepared trees: exact match, Debian's split layout,
 * a kheaders archive, only a mismatched version, and none at all. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../core/headers.h"
#include "../../core/paths.h"

static char root[PATH_MAX], cache[PATH_MAX];

static void touch(const char *rel)
{
	char p[PATH_MAX], dir[PATH_MAX];
	FILE *f;

	snprintf(p, sizeof(p), "%s/%s", root, rel);
	snprintf(dir, sizeof(dir), "%s", p);
	*strrchr(dir, '/') = '\0';
	assert_int_equal(bl_mkdir_p(dir, 0755), 0);
	f = fopen(p, "w");
	assert_non_null(f);
	fclose(f);
}

static void write_file(const char *rel, const char *text)
{
	char p[PATH_MAX];
	FILE *f;

	touch(rel);
	snprintf(p, sizeof(p), "%s/%s", root, rel);
	f = fopen(p, "w");
	fputs(text, f);
	fclose(f);
}

static int setup(void **state)
{
	char cmd[PATH_MAX + 16];

	(void)state;
	snprintf(root, sizeof(root), "/tmp/bpflua-headers-XXXXXX");
	assert_non_null(mkdtemp(root));
	snprintf(cache, sizeof(cache), "%s/cache", root);
	snprintf(cmd, sizeof(cmd), "mkdir -p %s/usr/src %s/lib/modules", root, root);
	assert_int_equal(system(cmd), 0);
	unsetenv("BCC_KERNEL_SOURCE");
	return 0;
}

static int teardown(void **state)
{
	char cmd[PATH_MAX + 16];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	return system(cmd);
}

static struct bl_headers_opts opts(const char *release)
{
	struct bl_headers_opts o = { .root = root, .release = release, .cache_dir = cache };

	return o;
}

static void exact(void **state)
{
	struct bl_headers h;
	struct bl_headers_opts o = opts("6.18.1-test");

	(void)state;
	touch("lib/modules/6.18.1-test/build/include/linux/kconfig.h");
	touch("lib/modules/6.18.1-test/build/include/generated/autoconf.h");
	assert_int_equal(bl_headers_find(&o, &h), 0);
	assert_int_equal(h.how, BL_HEADERS_EXACT);
	assert_non_null(strstr(h.path, "/lib/modules/6.18.1-test/build"));
}

/* Debian: the arch tree holds generated files and a Makefile that includes
 * the -common tree, which holds the sources. */
static void split_debian(void **state)
{
	struct bl_headers h;
	struct bl_headers_opts o = opts("6.18.1-test");
	char mk[PATH_MAX + 64], p[PATH_MAX];

	(void)state;
	touch("usr/src/linux-headers-6.1.0-9-common/include/linux/kconfig.h");
	touch("usr/src/linux-headers-6.1.0-9-common/arch/x86/include/asm/ptrace.h");
	touch("usr/src/linux-headers-6.1.0-9-amd64/include/generated/autoconf.h");
	touch("usr/src/linux-headers-6.1.0-9-amd64/arch/x86/include/generated/asm/foo.h");
	snprintf(mk, sizeof(mk), "include /usr/src/linux-headers-6.1.0-9-common/Makefile\n");
	write_file("usr/src/linux-headers-6.1.0-9-amd64/Makefile", mk);
	/* a farther version, to check the nearest wins */
	touch("usr/src/linux-headers-4.19.0-1-amd64/include/generated/autoconf.h");
	touch("usr/src/linux-headers-4.19.0-1-amd64/include/linux/kconfig.h");
	assert_int_equal(bl_headers_find(&o, &h), 0);
	assert_int_equal(h.how, BL_HEADERS_NEAREST);
	assert_string_equal(h.version, "6.1.0-9-amd64");
	assert_non_null(strstr(h.path, cache));
	/* the merged tree has both halves, and lives only in the cache */
	snprintf(p, sizeof(p), "%s/include/linux/kconfig.h", h.path);
	assert_int_equal(access(p, F_OK), 0);
	snprintf(p, sizeof(p), "%s/include/generated/autoconf.h", h.path);
	assert_int_equal(access(p, F_OK), 0);
	snprintf(p, sizeof(p), "%s/arch/x86/include/asm/ptrace.h", h.path);
	assert_int_equal(access(p, F_OK), 0);
	snprintf(p, sizeof(p), "%s/arch/x86/include/generated/asm/foo.h", h.path);
	assert_int_equal(access(p, F_OK), 0);
	/* a second call reuses the farm */
	assert_int_equal(bl_headers_find(&o, &h), 0);
	assert_int_equal(h.how, BL_HEADERS_NEAREST);
}

static void kheaders(void **state)
{
	struct bl_headers h;
	struct bl_headers_opts o = opts("6.18.1-test");
	char cmd[3 * PATH_MAX];

	(void)state;
	touch("kh/include/linux/kconfig.h");
	touch("kh/include/generated/autoconf.h");
	snprintf(cmd, sizeof(cmd), "mkdir -p %s/sys/kernel && tar -cJf %s/sys/kernel/kheaders.tar.xz -C %s/kh .",
		 root, root, root);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(bl_headers_find(&o, &h), 0);
	assert_int_equal(h.how, BL_HEADERS_KHEADERS);
	snprintf(cmd, sizeof(cmd), "%s/include/linux/kconfig.h", h.path);
	assert_int_equal(access(cmd, F_OK), 0);
}

static void mismatched_only(void **state)
{
	struct bl_headers h;
	struct bl_headers_opts o = opts("6.18.1-test");

	(void)state;
	touch("lib/modules/5.10.0-1-amd64/build/include/linux/kconfig.h");
	touch("lib/modules/5.10.0-1-amd64/build/include/generated/autoconf.h");
	assert_int_equal(bl_headers_find(&o, &h), 0);
	assert_int_equal(h.how, BL_HEADERS_NEAREST);
	assert_string_equal(h.version, "5.10.0-1-amd64");
}

static void none(void **state)
{
	struct bl_headers h;
	struct bl_headers_opts o = opts("6.18.1-test");

	(void)state;
	/* a -common tree alone is not enough: it has no generated config */
	touch("usr/src/linux-headers-6.1.0-9-common/include/linux/kconfig.h");
	assert_int_equal(bl_headers_find(&o, &h), -ENOENT);
}

static void env_override(void **state)
{
	struct bl_headers h;
	struct bl_headers_opts o = opts("6.18.1-test");

	(void)state;
	setenv("BCC_KERNEL_SOURCE", "/somewhere", 1);
	assert_int_equal(bl_headers_find(&o, &h), 0);
	assert_int_equal(h.how, BL_HEADERS_ENV);
	assert_string_equal(h.path, "/somewhere");
	unsetenv("BCC_KERNEL_SOURCE");
}

static void distance(void **state)
{
	(void)state;
	assert_true(bl_release_distance("6.1.0-9-amd64", "6.18.44") < bl_release_distance("5.10.0", "6.18.44"));
	assert_int_equal(bl_release_distance("6.18.1", "6.18.1"), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(exact, setup, teardown),
		cmocka_unit_test_setup_teardown(split_debian, setup, teardown),
		cmocka_unit_test_setup_teardown(kheaders, setup, teardown),
		cmocka_unit_test_setup_teardown(mismatched_only, setup, teardown),
		cmocka_unit_test_setup_teardown(none, setup, teardown),
		cmocka_unit_test_setup_teardown(env_override, setup, teardown),
		cmocka_unit_test(distance),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
