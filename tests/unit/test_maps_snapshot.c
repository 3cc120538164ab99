/* Snapshots of processes' mappings (core/maps_snapshot.c): a process's
 * addresses still resolve after it exited and was reaped, the snapshots are
 * bounded (least recently used out first) and so are the mappings each keeps,
 * and the files they hold are shared. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../core/maps_snapshot.h"
#include "../../core/symbols.h"

volatile int bl_sink;

__attribute__((noinline)) void bl_snapshot_target(void)
{
	for (int i = 0; i < 3; i++)
		bl_sink += i;
}

static const uint64_t target_offset = 1; /* inside the function, not at its start */

static void wait_running(pid_t pid)
{
	char path[64], buf[512], *p;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	for (int i = 0; i < 2000; i++) {
		FILE *f = fopen(path, "r");
		size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;

		if (f)
			fclose(f);
		buf[n] = '\0';
		p = strrchr(buf, ')');
		if (p && p[1] == ' ' && p[2] == 'S')
			return;
		usleep(1000);
	}
	fail_msg("process %d never went to sleep", (int)pid);
}

/* a child that maps `extra` more executable copies of this binary, then sleeps */
static pid_t child(int extra)
{
	int ready[2];
	pid_t pid;
	char b;

	assert_int_equal(pipe(ready), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		FILE *self = fopen("/proc/self/exe", "r");

		/* a failed check returns without reaping: go with the test */
		if (prctl(PR_SET_PDEATHSIG, SIGKILL))
			_exit(1);
		for (int i = 0; self && i < extra; i++)
			if (mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE, fileno(self), 0) == MAP_FAILED)
				_exit(1);
		if (write(ready[1], "r", 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	close(ready[1]);
	assert_int_equal(read(ready[0], &b, 1), 1);
	close(ready[0]);
	wait_running(pid);
	return pid;
}

static void reap(pid_t pid)
{
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

static int open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	assert_non_null(d);
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

static void resolve(pid_t pid, char *name, size_t len)
{
	bl_sym_resolve(pid, (uint64_t)(uintptr_t)bl_snapshot_target + target_offset, 1, name, len);
}

/* Resolved once while it runs, then killed and reaped: its address still
 * names the function, with the offset, and its module is this binary. */
static void outlives_the_process(void **state)
{
	char name[256], module[4096], self[4096];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	pid_t pid = child(0);

	(void)state;
	assert_true(n > 0);
	self[n] = '\0';
	bl_sym_flush();
	resolve(pid, name, sizeof(name));
	assert_string_equal(name, "bl_snapshot_target+0x1");
	assert_int_equal(bl_snap_count(), 1);
	reap(pid);
	usleep(20 * 1000); /* exits are noticed within 10 ms */
	assert_int_equal(bl_snap_gone(pid), 1);
	bl_sym_trim(); /* libbcc's cache of it goes; the snapshot stays */
	assert_int_equal(bl_sym_cached(), 0);
	resolve(pid, name, sizeof(name));
	assert_string_equal(name, "bl_snapshot_target+0x1");
	bl_sym_module(pid, (uint64_t)(uintptr_t)bl_snapshot_target, module, sizeof(module));
	assert_string_equal(module, self);
	/* an address in no mapping it had */
	bl_sym_resolve(pid, 0x1000, 0, name, sizeof(name));
	assert_string_equal(name, "[unknown]");
	bl_sym_flush();
	assert_int_equal(bl_snap_count(), 0);
	assert_int_equal(bl_snap_files(), 0);
}

/* More processes than snapshots are kept: the count stays at its bound, the
 * least recently used go first (the first child, used again, stays), the
 * files are shared (a few, not one per process), and once they all exited
 * the kept ones resolve and the dropped ones do not. */
static void bounded_least_recently_used(void **state)
{
	enum { N = BL_SNAP_MAX_PIDS + 16 };
	static pid_t kids[N];
	char name[256];
	int fds = open_fds(), files = 0;

	(void)state;
	bl_sym_flush();
	for (int i = 0; i < N; i++) {
		kids[i] = child(0);
		resolve(kids[i], name, sizeof(name));
		assert_string_equal(name, "bl_snapshot_target+0x1");
		if (i == 0)
			files = bl_snap_files();
		if (i == BL_SNAP_MAX_PIDS - 1)
			resolve(kids[0], name, sizeof(name)); /* kids[1] is now the oldest */
		assert_true(bl_snap_count() <= BL_SNAP_MAX_PIDS);
	}
	assert_int_equal(bl_snap_count(), BL_SNAP_MAX_PIDS);
	assert_int_equal(bl_snap_files(), files);
	for (int i = 0; i < N; i++)
		reap(kids[i]);
	usleep(20 * 1000);
	bl_sym_trim();
	for (int i = 0; i < N; i++) {
		resolve(kids[i], name, sizeof(name));
		if (i >= 1 && i <= N - BL_SNAP_MAX_PIDS)
			assert_string_equal(name, "[unknown]");
		else
			assert_string_equal(name, "bl_snapshot_target+0x1");
	}
	bl_sym_flush();
	assert_int_equal(open_fds(), fds);
}

/* A process with more executable mappings than a snapshot keeps: it keeps
 * its bound, and still resolves. */
static void mappings_bounded(void **state)
{
	char name[256];
	pid_t pid = child(BL_SNAP_MAX_MAPPINGS + 100);

	(void)state;
	bl_sym_flush();
	assert_int_equal(bl_sym_snapshot(pid, 0), BL_SNAP_MAX_MAPPINGS);
	assert_true(bl_snap_files() <= 4); /* the copies share one open file */
	reap(pid);
	usleep(20 * 1000);
	resolve(pid, name, sizeof(name));
	assert_string_equal(name, "bl_snapshot_target+0x1");
	bl_sym_flush();
}

/* A process mapping more distinct files than are held open: the files held
 * stay at their bound (the least recently used closed), and a flush leaves
 * no descriptor behind. */
static void files_bounded(void **state)
{
	enum { FILES = BL_SNAP_MAX_FILES + 20 };
	char dir[] = "snapfilesXXXXXX", path[64];
	int fds = open_fds(), ready[2];
	pid_t pid;
	char b;

	(void)state;
	bl_sym_flush();
	assert_non_null(mkdtemp(dir));
	assert_int_equal(pipe(ready), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		if (prctl(PR_SET_PDEATHSIG, SIGKILL))
			_exit(1);
		for (int i = 0; i < FILES; i++) {
			int fd;

			snprintf(path, sizeof(path), "%s/%d", dir, i);
			fd = open(path, O_RDWR | O_CREAT, 0600);
			if (fd < 0 || ftruncate(fd, 4096) ||
			    mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE, fd, 0) == MAP_FAILED)
				_exit(1);
			close(fd);
		}
		if (write(ready[1], "r", 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	close(ready[1]);
	assert_int_equal(read(ready[0], &b, 1), 1);
	close(ready[0]);
	assert_true(bl_sym_snapshot(pid, 0) >= FILES);
	assert_int_equal(bl_snap_files(), BL_SNAP_MAX_FILES);
	assert_true(open_fds() <= fds + BL_SNAP_MAX_FILES); /* the vDSO's slot holds none */
	reap(pid);
	for (int i = 0; i < FILES; i++) {
		snprintf(path, sizeof(path), "%s/%d", dir, i);
		unlink(path);
	}
	rmdir(dir);
	bl_sym_flush();
	assert_int_equal(open_fds(), fds);
}

/* A process and the one it started, taken together from the first: the
 * grandchild's address resolves once both are gone. */
static void children_taken(void **state)
{
	int ready[2];
	pid_t pid, grandchild;
	char name[256];

	(void)state;
	bl_sym_flush();
	assert_int_equal(pipe(ready), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		pid_t g;

		if (prctl(PR_SET_PDEATHSIG, SIGKILL))
			_exit(1);
		g = fork();
		if (g == 0) {
			if (prctl(PR_SET_PDEATHSIG, SIGKILL))
				_exit(1);
			pause();
			_exit(0);
		}
		if (g < 0 || write(ready[1], &g, sizeof(g)) != sizeof(g))
			_exit(1);
		pause();
		_exit(0);
	}
	close(ready[1]);
	assert_int_equal(read(ready[0], &grandchild, sizeof(grandchild)), sizeof(grandchild));
	close(ready[0]);
	wait_running(pid);
	wait_running(grandchild);
	assert_int_equal(bl_snap_take_tree(pid, 0, 64), 2);
	assert_int_equal(bl_snap_count(), 2);
	assert_int_equal(bl_snap_take_tree(pid, 0, 1), 1); /* the bound */
	reap(pid); /* and the grandchild with it (PR_SET_PDEATHSIG) */
	for (int i = 0; i < 2000 && kill(grandchild, 0) == 0; i++)
		usleep(1000);
	usleep(20 * 1000);
	resolve(grandchild, name, sizeof(name));
	assert_string_equal(name, "bl_snapshot_target+0x1");
	bl_sym_flush();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(outlives_the_process),
		cmocka_unit_test(bounded_least_recently_used),
		cmocka_unit_test(mappings_bounded),
		cmocka_unit_test(files_bounded),
		cmocka_unit_test(children_taken),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
