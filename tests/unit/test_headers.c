/* Header discovery over prepared trees: exact match, Debian's split layout
 * (with and without linux-kbuild, whose absence leaves dangling links), a
 * kheaders archive, only a mismatched version, none at all, an unusable tree
 * named with what it lacks, merged trees in a cache others could change, and
 * runs building the same tree at once. */
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
#include <sys/wait.h>
#include <unistd.h>

#include "../../core/error.h"
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

/* The pieces a whole tree needs, under rel. */
static void whole_tree(const char *rel)
{
	char p[PATH_MAX];

	snprintf(p, sizeof(p), "%s/include/linux/kconfig.h", rel);
	touch(p);
	snprintf(p, sizeof(p), "%s/include/generated/autoconf.h", rel);
	touch(p);
	snprintf(p, sizeof(p), "%s/arch/%s/include/generated/asm/foo.h", rel, bl_headers_arch());
	touch(p);
}

static void link_at(const char *target, const char *rel)
{
	char p[PATH_MAX];

	snprintf(p, sizeof(p), "%s/%s", root, rel);
	assert_int_equal(symlink(target, p), 0);
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

/* a whole tree at `tree`, looked for by a kernel of `release`: found, as `how` */
static struct bl_headers found(const char *tree, const char *release, int how)
{
	struct bl_headers h;
	struct bl_headers_opts o = opts(release);

	whole_tree(tree);
	assert_int_equal(bl_headers_find(&o, &h), 0);
	assert_int_equal(h.how, how);
	return h;
}

static void exact(void **state)
{
	struct bl_headers h = found("lib/modules/6.18.1-test/build", "6.18.1-test", BL_HEADERS_EXACT);

	(void)state;
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
	snprintf(p, sizeof(p), "usr/src/linux-headers-6.1.0-9-common/arch/%s/include/asm/ptrace.h", bl_headers_arch());
	touch(p);
	touch("usr/src/linux-headers-6.1.0-9-amd64/include/generated/autoconf.h");
	snprintf(p, sizeof(p), "usr/src/linux-headers-6.1.0-9-amd64/arch/%s/include/generated/asm/foo.h",
		 bl_headers_arch());
	touch(p);
	snprintf(mk, sizeof(mk), "include /usr/src/linux-headers-6.1.0-9-common/Makefile\n");
	write_file("usr/src/linux-headers-6.1.0-9-amd64/Makefile", mk);
	/* a farther version, to check the nearest wins */
	whole_tree("usr/src/linux-headers-4.19.0-1-amd64");
	assert_int_equal(bl_headers_find(&o, &h), 0);
	assert_int_equal(h.how, BL_HEADERS_NEAREST);
	assert_string_equal(h.version, "6.1.0-9-amd64");
	assert_non_null(strstr(h.path, cache));
	/* the merged tree has both halves, and lives only in the cache */
	snprintf(p, sizeof(p), "%s/include/linux/kconfig.h", h.path);
	assert_int_equal(access(p, F_OK), 0);
	snprintf(p, sizeof(p), "%s/include/generated/autoconf.h", h.path);
	assert_int_equal(access(p, F_OK), 0);
	snprintf(p, sizeof(p), "%s/arch/%s/include/asm/ptrace.h", h.path, bl_headers_arch());
	assert_int_equal(access(p, F_OK), 0);
	snprintf(p, sizeof(p), "%s/arch/%s/include/generated/asm/foo.h", h.path, bl_headers_arch());
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
	whole_tree("kh");
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
	struct bl_headers h = found("lib/modules/5.10.0-1-amd64/build", "6.18.1-test", BL_HEADERS_NEAREST);

	(void)state;
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

/* A Debian split tree, as the running kernel's, with linux-kbuild missing:
 * both halves' `scripts` and `tools` links dangle. The compiler needs
 * neither, so the tree is used as the exact one. (The old merge stopped at
 * the second dangling `scripts` and the tree was skipped.) */
static void split_dangling_links(void **state)
{
	struct bl_headers h;
	struct bl_headers_opts o = opts("6.18.1-test");
	const char *c = "usr/src/linux-headers-6.18.1-test-common", *a = "usr/src/linux-headers-6.18.1-test-amd64";
	char p[PATH_MAX], mk[PATH_MAX], rel[PATH_MAX];
	struct stat st;

	(void)state;
	snprintf(p, sizeof(p), "%s/include/linux/kconfig.h", c);
	touch(p);
	snprintf(p, sizeof(p), "%s/arch/%s/include/asm/ptrace.h", c, bl_headers_arch());
	touch(p);
	snprintf(p, sizeof(p), "%s/include/generated/autoconf.h", a);
	touch(p);
	snprintf(p, sizeof(p), "%s/arch/%s/include/generated/asm/foo.h", a, bl_headers_arch());
	touch(p);
	snprintf(mk, sizeof(mk), "include /%s/Makefile\n", c);
	snprintf(p, sizeof(p), "%s/Makefile", a);
	write_file(p, mk);
	for (int i = 0; i < 2; i++) {
		const char *half = i ? c : a;

		snprintf(rel, sizeof(rel), "%s/scripts", half);
		link_at("../../lib/linux-kbuild-6.18/scripts", rel);
		snprintf(rel, sizeof(rel), "%s/tools", half);
		link_at("../../lib/linux-kbuild-6.18/tools", rel);
	}
	assert_int_equal(bl_mkdir_p(strcat(strcpy(p, root), "/lib/modules/6.18.1-test"), 0755), 0);
	snprintf(p, sizeof(p), "lib/modules/6.18.1-test/build");
	snprintf(rel, sizeof(rel), "%s/%s", root, a);
	link_at(rel, p);
	assert_int_equal(bl_headers_find(&o, &h), 0);
	assert_int_equal(h.how, BL_HEADERS_EXACT);
	assert_string_equal(h.rejected, "");
	assert_non_null(strstr(h.path, cache));
	/* the dangling link is linked as it is */
	snprintf(p, sizeof(p), "%s/scripts", h.path);
	assert_int_equal(lstat(p, &st), 0);
	assert_true(S_ISLNK(st.st_mode));
	snprintf(p, sizeof(p), "%s/include/linux/kconfig.h", h.path);
	assert_int_equal(access(p, F_OK), 0);
}

/* The running kernel's tree without its generated config: the error names
 * the tree and the file, and does not ask for a package that is there. */
static void missing_autoconf(void **state)
{
	struct bl_headers h;
	struct bl_headers_opts o = opts("6.18.1-test");
	char p[PATH_MAX], tree[PATH_MAX];

	(void)state;
	whole_tree("lib/modules/6.18.1-test/build");
	snprintf(p, sizeof(p), "%s/lib/modules/6.18.1-test/build/include/generated/autoconf.h", root);
	assert_int_equal(unlink(p), 0);
	snprintf(tree, sizeof(tree), "%s/lib/modules/6.18.1-test/build", root);
	assert_int_equal(bl_headers_find(&o, &h), -ENOENT);
	assert_non_null(strstr(bl_last_error(), tree));
	assert_non_null(strstr(bl_last_error(), "has no include/generated/autoconf.h"));
	assert_null(strstr(bl_last_error(), "install linux-headers-6.18.1-test"));
	/* with another version there, that one is used and the reason kept */
	whole_tree("lib/modules/6.1.0-9-amd64/build");
	assert_int_equal(bl_headers_find(&o, &h), 0);
	assert_int_equal(h.how, BL_HEADERS_NEAREST);
	assert_non_null(strstr(h.rejected, tree));
	assert_non_null(strstr(h.rejected, "include/generated/autoconf.h"));
}

/* A Debian split pair under /usr/src, the only tree there. */
static void split_pair(void)
{
	char p[PATH_MAX];

	touch("usr/src/linux-headers-6.1.0-9-common/include/linux/kconfig.h");
	snprintf(p, sizeof(p), "usr/src/linux-headers-6.1.0-9-common/arch/%s/include/asm/ptrace.h", bl_headers_arch());
	touch(p);
	whole_tree("usr/src/linux-headers-6.1.0-9-amd64");
	snprintf(p, sizeof(p), "%s/usr/src/linux-headers-6.1.0-9-amd64/include/linux/kconfig.h", root);
	unlink(p);
	write_file("usr/src/linux-headers-6.1.0-9-amd64/Makefile",
		   "include /usr/src/linux-headers-6.1.0-9-common/Makefile\n");
}

static int run(const char *fmt, const char *a, const char *b)
{
	char cmd[3 * PATH_MAX];

	snprintf(cmd, sizeof(cmd), fmt, a, b);
	return system(cmd);
}

/* A merged tree is trusted only when it and the directories bpflua made above
 * it are ours and writable by nobody else; else one is made in a private
 * directory and the planted one is left alone. */
static void untrusted_cache(void **state)
{
	struct bl_headers h;
	struct bl_headers_opts o = opts("6.18.1-test");
	char farm[PATH_MAX], p[PATH_MAX];

	(void)state;
	if (geteuid() != 0)
		fail_msg("needs root to give files to another user");
	split_pair();
	assert_int_equal(bl_headers_find(&o, &h), 0);
	snprintf(farm, sizeof(farm), "%s", h.path);
	assert_non_null(strstr(farm, cache));
	/* a file of the farm's replaced by another user's */
	assert_int_equal(run("rm -rf '%s/include/linux' && mkdir '%s/include/linux'", farm, farm), 0);
	assert_int_equal(run("touch '%s/include/linux/kconfig.h' && chown -R 65534 '%s/include/linux'", farm, farm), 0);
	assert_int_equal(bl_headers_find(&o, &h), 0);
	assert_null(strstr(h.path, cache));
	assert_string_not_equal(h.path, farm);
	assert_string_equal(h.id, strrchr(farm, '/') + 1); /* the same program cache key */
	snprintf(p, sizeof(p), "%s/include/linux/kconfig.h", h.path);
	assert_int_equal(access(p, F_OK), 0);
	assert_int_equal(access(farm, F_OK), 0);
	/* group-writable */
	assert_int_equal(run("rm -rf '%s/include/linux' && ln -s x '%s/include/linux'", farm, farm), 0);
	assert_int_equal(run("chmod g+w '%s/include' %s", farm, ""), 0);
	assert_int_equal(bl_headers_find(&o, &h), 0);
	assert_null(strstr(h.path, cache));
	/* the cache directory itself owned by another user */
	assert_int_equal(run("rm -rf '%s' && mkdir -p '%s/headers'", cache, cache), 0);
	assert_int_equal(run("chown -R 65534 '%s' %s", cache, ""), 0);
	assert_int_equal(bl_headers_find(&o, &h), 0);
	assert_null(strstr(h.path, cache));
	snprintf(p, sizeof(p), "%s/headers", cache);
	assert_int_equal(run("test -z \"$(ls -A '%s')\" %s", p, ""), 0); /* nothing written there */
	/* and with no cache at all */
	o.cache_dir = NULL;
	assert_int_equal(bl_headers_find(&o, &h), 0);
	assert_null(strstr(h.path, cache));
	snprintf(p, sizeof(p), "%s/include/generated/autoconf.h", h.path);
	assert_int_equal(access(p, F_OK), 0);
}

/* Runs starting together with an empty cache each get a whole tree that
 * stays whole: nobody removes a tree another may be compiling against. */
static void concurrent_builds(void **state)
{
	struct bl_headers_opts o = opts("6.18.1-test");
	char go[PATH_MAX], p[PATH_MAX];

	(void)state;
	split_pair();
	snprintf(go, sizeof(go), "%s/go", root);
	for (int round = 0; round < 20; round++) {
		pid_t kids[4];
		int failed = 0;

		assert_int_equal(run("rm -rf '%s' '%s'", cache, go), 0);
		for (int k = 0; k < 4; k++) {
			kids[k] = fork();
			assert_true(kids[k] >= 0);
			if (kids[k] == 0) {
				struct bl_headers h;
				int bad = 0;

				for (int spin = 0; access(go, F_OK) && spin < 100000; spin++)
					usleep(100);
				if (bl_headers_find(&o, &h))
					_exit(1);
				snprintf(p, sizeof(p), "%s/include/linux/kconfig.h", h.path);
				for (int i = 0; i < 2000 && !bad; i++)
					bad = access(p, F_OK) != 0;
				_exit(bad ? 2 : 0);
			}
		}
		assert_int_equal(mkdir(go, 0700), 0);
		for (int k = 0; k < 4; k++) {
			int st;

			assert_int_equal(waitpid(kids[k], &st, 0), kids[k]);
			failed += !WIFEXITED(st) || WEXITSTATUS(st);
		}
		if (failed)
			fail_msg("round %d: %d of 4 runs lost their tree", round, failed);
	}
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
		cmocka_unit_test_setup_teardown(split_dangling_links, setup, teardown),
		cmocka_unit_test_setup_teardown(missing_autoconf, setup, teardown),
		cmocka_unit_test_setup_teardown(untrusted_cache, setup, teardown),
		cmocka_unit_test_setup_teardown(concurrent_builds, setup, teardown),
		cmocka_unit_test(distance),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
