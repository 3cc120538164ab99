/* The symbol caches: bounded in number, trimmed when processes exit, and
 * never closing a descriptor they did not open (libbcc 0.26 closes an
 * uninitialised one when a process's cache is freed: see core/symbols.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../core/symbols.h"

#define OUR_FD 100

static void wait_state(pid_t pid, char want)
{
	char path[64], buf[512], *p;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	for (int i = 0; i < 1000; i++) {
		FILE *f = fopen(path, "r");
		size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;

		if (f)
			fclose(f);
		buf[n] = '\0';
		p = strrchr(buf, ')');
		if (p && p[1] == ' ' && p[2] == want)
			return;
		usleep(1000);
	}
	fail_msg("process %d never reached state %c", (int)pid, want);
}

/* A child that exited and is not reaped yet: libbcc reads its (empty) maps
 * but cannot read its root, the path that leaves ModulePath::fd_ unset. */
static pid_t zombie(void)
{
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0)
		_exit(0);
	wait_state(pid, 'Z');
	return pid;
}

/* Heap chunks of the sizes libbcc's ModulePath block comes from, left holding
 * our descriptor's number: whatever is uninitialised reads OUR_FD. */
static void poison_heap(void)
{
	void *chunks[2000];

	for (size_t sz = 72; sz <= 104; sz += 8) {
		for (int i = 0; i < 2000; i++) {
			int *c = malloc(sz);

			assert_non_null(c);
			for (size_t k = 0; k < sz / sizeof(int); k++)
				c[k] = OUR_FD;
			chunks[i] = c;
		}
		for (int i = 0; i < 2000; i++)
			free(chunks[i]);
	}
}

static void keeps_our_descriptors(void **state)
{
	char name[256];
	pid_t z = zombie();

	(void)state;
	assert_int_equal(dup2(open("/dev/null", O_RDONLY), OUR_FD), OUR_FD);
	for (int round = 0; round < 20; round++) {
		poison_heap();
		bl_sym_resolve(z, 0x1000, 0, name, sizeof(name));
		bl_sym_flush();
		if (fcntl(OUR_FD, F_GETFD) < 0)
			fail_msg("round %d: the symbol cache closed fd %d, which it never opened", round, OUR_FD);
		if (fcntl(1, F_GETFD) < 0 || fcntl(2, F_GETFD) < 0)
			fail_msg("round %d: the symbol cache closed stdout or stderr", round);
	}
	waitpid(z, NULL, 0);
	close(OUR_FD);
}

/* More processes than the cache holds: it stays at its bound, and a trim
 * after they exit leaves none of theirs. */
static void bounded_and_trimmed(void **state)
{
	enum { N = BL_SYM_MAX_CACHES + 8 };
	pid_t kids[N];
	char name[256];

	(void)state;
	bl_sym_flush();
	for (int i = 0; i < N; i++) {
		kids[i] = fork();
		assert_true(kids[i] >= 0);
		if (kids[i] == 0) {
			pause();
			_exit(0);
		}
		wait_state(kids[i], 'S');
		/* an address in the child's copy of this binary */
		bl_sym_resolve(kids[i], (uint64_t)(uintptr_t)bounded_and_trimmed, 0, name, sizeof(name));
		assert_string_equal(name, "bounded_and_trimmed");
		assert_true(bl_sym_cached() <= BL_SYM_MAX_CACHES);
	}
	assert_int_equal(bl_sym_cached(), BL_SYM_MAX_CACHES);
	/* every cached process is alive: nothing to trim */
	assert_int_equal(bl_sym_trim(), 0);
	for (int i = 0; i < N; i++) {
		kill(kids[i], SIGKILL);
		waitpid(kids[i], NULL, 0);
	}
	assert_int_equal(bl_sym_trim(), BL_SYM_MAX_CACHES);
	assert_int_equal(bl_sym_cached(), 0);
	bl_sym_flush();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(keeps_our_descriptors),
		cmocka_unit_test(bounded_and_trimmed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
