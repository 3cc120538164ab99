/* Workloads the integration tests drive: each makes an exact, known number
 * of events so a tracer's counts can be checked to the unit.
 *
 *   workload getppid N [GATE]   N getppid() calls; with GATE, first wait
 *                               until that file exists (the tracer is ready)
 *   workload uprobe N           calls bl_traced_function() N times
 *   workload emulate N          calls bl_guarded_add(i) for i in 0..N-1 and
 *                               bl_rejoined(3), bl_moves_first(i) N times each
 *   workload openfail N         N open() calls of a missing file (ENOENT)
 *   workload nanosleep N        N sleeps of 1 ms; says on stderr how many
 *                               took under 2048 us as it measured them
 *   workload leak N SIZE        leaks N blocks of SIZE bytes from
 *                               bl_leak_memory(), allocates and frees as many
 *                               in bl_alloc_and_free(), then lingers 1 s
 *   workload jit SECONDS         runs machine code (SECONDS of CPU) from an anonymous mapping
 *                               (as a JIT does), named bl_jitted_spin in
 *                               /tmp/perf-PID.map, then lingers 1 s
 *   workload burn SECONDS [GATE] spins in bl_burn_cpu() for SECONDS of CPU, then
 *                               stays alive until GATE exists, so that its
 *                               stacks can still be symbolized
 *   workload named HEX N SECONDS  renames itself to the bytes HEX (escape
 *                               sequences, newlines, invalid UTF-8: what a
 *                               hostile process may call itself), makes N
 *                               getppid() calls, spins SECONDS, lingers 1 s
 *   workload paths SECONDS       spins 4 ms at a time at the end of 12 calls,
 *                               each to bl_path_a() or bl_path_b(): a new call
 *                               path (a new stack) every 4 ms, 4096 in all
 *
 * Prints its pid first, so a test can filter on it. */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

volatile unsigned long sink;

__attribute__((noinline)) void bl_traced_function(unsigned long i)
{
	sink += i;
	__asm__ volatile("" ::: "memory");
}

/* attach_uprobe's emulate option, tested on code whose bytes are known:
 * bl_guarded_add(p) adds p to sink unless p is 0; a `test` (single-stepped
 * by the kernel) comes before a `je` (emulated), and a probe on the je sees
 * every call. bl_rejoined(n) loops back to its je n times: the je has other
 * callers than the entry, so the probe must stay at the entry. And
 * bl_moves_first(p) starts by writing a register: it stays too. So do
 * bl_loops_back(n), whose way back is a `loop` (not in capstone 4's jump
 * group), and bl_reads_first(p), whose `cmp` reads *p: where that faults,
 * the call would never reach the branch. */
__asm__(".text\n"
	".globl bl_guarded_add\n.type bl_guarded_add, @function\nbl_guarded_add:\n"
	"\ttest %rdi, %rdi\n\tje 1f\n\tadd %rdi, sink(%rip)\n1:\tret\n"
	".size bl_guarded_add, .-bl_guarded_add\n"
	".globl bl_rejoined\n.type bl_rejoined, @function\nbl_rejoined:\n"
	"\ttest %rdi, %rdi\n2:\tje 1f\n\tdec %rdi\n\ttest %rdi, %rdi\n\tjmp 2b\n1:\tret\n"
	".size bl_rejoined, .-bl_rejoined\n"
	".globl bl_moves_first\n.type bl_moves_first, @function\nbl_moves_first:\n"
	"\tmov %rdi, %rax\n\ttest %rax, %rax\n\tje 1f\n\tadd %rax, sink(%rip)\n1:\tret\n"
	".size bl_moves_first, .-bl_moves_first\n"
	".globl bl_loops_back\n.type bl_loops_back, @function\nbl_loops_back:\n"
	"\tmov %rdi, %rcx\n\ttest %rdi, %rdi\n"
	"\t.globl bl_loops_back_je\nbl_loops_back_je:\n"
	"\tje 1f\n\tloop bl_loops_back_je\n1:\tret\n"
	".size bl_loops_back, .-bl_loops_back\n"
	".globl bl_reads_first\n.type bl_reads_first, @function\nbl_reads_first:\n"
	"\tcmpq $0, (%rdi)\n\tje 1f\n\tincq sink(%rip)\n1:\tret\n"
	".size bl_reads_first, .-bl_reads_first\n");
void bl_guarded_add(unsigned long p);
void bl_rejoined(unsigned long n);
void bl_moves_first(unsigned long p);
void bl_loops_back(unsigned long n);
void bl_reads_first(const long *p);

/* Spins until this thread has had SECONDS of CPU, however busy the host:
 * a sampling test then knows how many samples to expect. */
__attribute__((noinline)) void bl_burn_cpu(double seconds)
{
	struct timespec t0, t;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t0);
	do {
		for (int i = 0; i < 100000; i++)
			sink += (unsigned long)i * 7;
		clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
	} while ((double)(t.tv_sec - t0.tv_sec) + (double)(t.tv_nsec - t0.tv_nsec) / 1e9 < seconds);
}

void bl_path_b(unsigned bits, int depth);

/* Two functions alike but for their names. The work after each call keeps
 * it a call (no tail call): every level's return address tells which way
 * the path went. */
#define BL_PATH(name)                                                   \
	__attribute__((noinline)) void name(unsigned bits, int depth)   \
	{                                                               \
		if (depth == 0)                                         \
			bl_burn_cpu(0.004);                             \
		else if (bits & 1)                                      \
			bl_path_a(bits >> 1, depth - 1);                \
		else                                                    \
			bl_path_b(bits >> 1, depth - 1);                \
		sink++;                                                 \
	}
void bl_path_a(unsigned bits, int depth);
BL_PATH(bl_path_a)
BL_PATH(bl_path_b)

static void *leaked[100000];
static long nleaked;

__attribute__((noinline)) void *bl_leak_memory(size_t size)
{
	void *p = malloc(size);

	/* stored, and not a tail call: this frame stays on the stack */
	leaked[nleaked++ % 100000] = p;
	return p;
}

__attribute__((noinline)) void bl_alloc_and_free(size_t size)
{
	void *p = malloc(size);

	sink += (unsigned long)p;
	free(p);
}

/* The referee for sampling tests: the CPU time this process got, as the
 * kernel charged it; a 99 Hz profile sees 99 samples per CPU second. */
static void say_cpu_time(void)
{
	struct timespec t;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
	fprintf(stderr, "cpu_ms %ld\n", (long)t.tv_sec * 1000 + t.tv_nsec / 1000000);
}

/* mov rcx, 1000000; 1: dec rcx; jnz 1b; ret */
static const unsigned char spin_code[] = { 0x48, 0xc7, 0xc1, 0x40, 0x42, 0x0f, 0x00,
					   0x48, 0xff, 0xc9, 0x75, 0xfb, 0xc3 };

static int run_jit(double seconds)
{
	void *mem = mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct timespec t0, t, linger = { 1, 0 };
	char path[64];
	FILE *f;

	if (mem == MAP_FAILED)
		return 1;
	memcpy(mem, spin_code, sizeof(spin_code));
	snprintf(path, sizeof(path), "/tmp/perf-%d.map", (int)getpid());
	f = fopen(path, "w");
	if (!f)
		return 1;
	fprintf(f, "%lx %zx bl_jitted_spin\n", (unsigned long)mem, sizeof(spin_code));
	fclose(f);
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t0);
	do {
		((void (*)(void))mem)();
		clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
	} while ((double)(t.tv_sec - t0.tv_sec) + (double)(t.tv_nsec - t0.tv_nsec) / 1e9 < seconds);
	say_cpu_time();
	nanosleep(&linger, NULL);
	unlink(path);
	return 0;
}

/* libc's syscall() keeps no frame pointer, so a frame-pointer walk from it
 * skips its caller: this one is that caller, and the frame after it the
 * call site */
__attribute__((noinline)) void bl_getppid_once(void)
{
	syscall(SYS_getppid);
}

/* One function, two call sites: stacks whose names are the same and whose
 * addresses differ, 30 getppid calls from the first and 20 from the second. */
__attribute__((noinline)) void bl_two_sites(void)
{
	for (volatile int i = 0; i < 30; i++)
		bl_getppid_once();
	for (volatile int i = 0; i < 20; i++)
		bl_getppid_once();
}

/* N processes forked at once, each bl_two_sites() then SECONDS asleep (so
 * a tracer can still read its memory map); 50 getppid calls each */
static int run_children(long n, double seconds)
{
	struct timespec s = { (time_t)seconds, (long)((seconds - (double)(time_t)seconds) * 1e9) };
	sigset_t chld;

	/* a SIGCHLD arriving mid-fork restarts the clone, which strace -f
	 * (slowing us) would count as extra calls: exact counts need none */
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, NULL);
	for (long i = 0; i < n; i++) {
		pid_t p = fork();

		if (p < 0)
			return 1;
		if (p == 0) {
			bl_two_sites();
			nanosleep(&s, NULL);
			_exit(0);
		}
	}
	sigprocmask(SIG_UNBLOCK, &chld, NULL);
	while (wait(NULL) > 0)
		;
	fprintf(stderr, "getppid calls: %ld\n", 50 * n);
	return 0;
}

static void wait_for(const char *gate)
{
	struct timespec ms = { 0, 1000000 };

	for (int i = 0; i < 30000 && access(gate, F_OK); i++)
		nanosleep(&ms, NULL);
}

int bl_tracer_mode(int argc, char **argv);
static int bl_mode_rc;

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: workload getppid|uprobe|openfail|nanosleep|leak|burn N [ARG]\n");
		return 2;
	}
	printf("%d\n", (int)getpid());
	fflush(stdout);
	if (!strcmp(argv[1], "getppid")) {
		long n = atol(argv[2]);

		if (argc > 3)
			wait_for(argv[3]);
		for (long i = 0; i < n; i++)
			syscall(SYS_getppid);
	} else if (!strcmp(argv[1], "uprobe")) {
		long n = atol(argv[2]);

		for (long i = 0; i < n; i++)
			bl_traced_function((unsigned long)i);
	} else if (!strcmp(argv[1], "emulate")) {
		long n = atol(argv[2]);

		for (long i = 0; i < n; i++) {
			bl_guarded_add((unsigned long)i);
			bl_rejoined(3);
			bl_moves_first((unsigned long)i);
			bl_loops_back(3);
			bl_reads_first(&i);
		}
	} else if (!strcmp(argv[1], "openfail")) {
		long n = atol(argv[2]);

		for (long i = 0; i < n; i++)
			if (open("/nonexistent/bpflua-workload", O_RDONLY) >= 0)
				return 1;
	} else if (!strcmp(argv[1], "nanosleep")) {
		long n = atol(argv[2]), fast = 0;
		struct timespec ms = { 0, 1000000 }, t0, t1;

		for (long i = 0; i < n; i++) {
			clock_gettime(CLOCK_MONOTONIC, &t0); /* the vDSO: no syscall */
			nanosleep(&ms, NULL);
			clock_gettime(CLOCK_MONOTONIC, &t1);
			fast += (t1.tv_sec - t0.tv_sec) * 1000000000L + (t1.tv_nsec - t0.tv_nsec) < 2048000;
		}
		/* the referee for latency histograms: a tracer sees each sleep
		 * from inside this interval, so at least this many under 2048 us */
		fprintf(stderr, "sleeps under 2048 us: %ld\n", fast);
	} else if (!strcmp(argv[1], "leak")) {
		long n = atol(argv[2]);
		size_t size = argc > 3 ? (size_t)atol(argv[3]) : 1000;
		struct timespec s = { 1, 0 }, t0, t1;

		clock_gettime(CLOCK_MONOTONIC, &t0);
		for (long i = 0; i < n; i++) {
			bl_leak_memory(size);
			bl_alloc_and_free(size);
		}
		clock_gettime(CLOCK_MONOTONIC, &t1);
		/* for overhead measurements: 3 allocator calls per round */
		fprintf(stderr, "ns per allocator call: %.1f\n",
			((double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec)) / (3.0 * (double)n));
		nanosleep(&s, NULL); /* a tracer can still read our memory map */
	} else if (!strcmp(argv[1], "jit")) {
		return run_jit(atof(argv[2]));
	} else if (!strcmp(argv[1], "paths")) {
		struct timespec t0, t;
		double seconds = atof(argv[2]), elapsed;

		clock_gettime(CLOCK_MONOTONIC, &t0);
		for (unsigned p = 0;; p++) {
			bl_path_a(p & 4095, 12);
			clock_gettime(CLOCK_MONOTONIC, &t);
			elapsed = (double)(t.tv_sec - t0.tv_sec) + (double)(t.tv_nsec - t0.tv_nsec) / 1e9;
			if (elapsed >= seconds)
				break;
		}
	} else if (!strcmp(argv[1], "burn")) {
		bl_burn_cpu(atof(argv[2]));
		say_cpu_time();
		printf("done\n");
		fflush(stdout);
		if (argc > 3)
			wait_for(argv[3]);
	} else if (!strcmp(argv[1], "named") && argc > 4) {
		char name[16] = { 0 };
		long n = atol(argv[3]);
		struct timespec s = { 1, 0 };

		size_t hexlen = strlen(argv[2]);

		for (size_t i = 0; i < 15 && 2 * i + 1 < hexlen; i++)
			if (sscanf(argv[2] + 2 * i, "%2hhx", (unsigned char *)&name[i]) != 1)
				return 2;
		if (prctl(PR_SET_NAME, name))
			return 1;
		for (long i = 0; i < n; i++)
			syscall(SYS_getppid);
		bl_burn_cpu(atof(argv[4]));
		nanosleep(&s, NULL);
	} else if ((bl_mode_rc = bl_tracer_mode(argc, argv)) >= 0) {
		return bl_mode_rc;
	} else if (!strcmp(argv[1], "children")) {
		return run_children(atol(argv[2]), argc > 3 ? atof(argv[3]) : 0);
	} else {
		fprintf(stderr, "unknown workload %s\n", argv[1]);
		return 2;
	}
	return 0;
}

/* The workloads of the everyday tracers (opensnoop, runqlat, offcputime,
 * oomkill):
 *
 *   workload opens N M FILE     opens FILE N times and FILE.missing M times
 *                               (ENOENT)
 *   workload wakes N [GATE]     a thread named bl_waker sleeps 1 ms N times,
 *                               then blocks for good; then the process says
 *                               its tid and how often it came on a CPU
 *                               (pcount in its schedstat): "waker TID
 *                               PCOUNT", and waits for GATE
 *   workload block K MS         a thread named bl_blocker blocks K times for MS
 *                               ms in bl_block_wait(), then says the wall time
 *                               of its loop: "blocker TID WALL_US"; lingers
 *                               0.5 s
 *   workload hog MB             allocates and touches MB megabytes, 1 MB at a
 *                               time, then lingers 1 s
 *
 * bl_tracer_mode returns -1 for a mode that is not one of these, else 0 or
 * 1 (failed). */
#include <pthread.h>

static long bl_arg(int argc, char **argv, int i)
{
	return i < argc ? atol(argv[i]) : 0;
}

static void bl_sleep_ms(long ms)
{
	struct timespec t = { ms / 1000, (ms % 1000) * 1000000 };

	nanosleep(&t, NULL);
}

static double bl_now_us(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e6 + (double)t.tv_nsec / 1e3;
}

struct bl_thread_arg {
	long n, ms;
	long tid;
	unsigned long long pcount;
};

static volatile int bl_waker_done;

/* sleeps and wakes, then blocks for good on a pipe nobody writes */
static void *bl_waker(void *p)
{
	struct bl_thread_arg *a = p;
	int fds[2];
	char c;

	prctl(PR_SET_NAME, "bl_waker");
	a->tid = (long)syscall(SYS_gettid);
	if (pipe(fds))
		return NULL;
	for (long i = 0; i < a->n; i++)
		bl_sleep_ms(1);
	__atomic_store_n(&bl_waker_done, 1, __ATOMIC_SEQ_CST);
	if (read(fds[0], &c, 1) < 0)
		return NULL;
	return NULL;
}

/* The waker's state letter and arrivals on a CPU (pcount), from /proc. */
static char bl_task_state(long tid, unsigned long long *pcount)
{
	char path[64], buf[512], *paren, state = '?';
	unsigned long long run, wait;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/task/%ld/stat", tid);
	f = fopen(path, "r");
	if (f) {
		size_t n = fread(buf, 1, sizeof(buf) - 1, f);

		buf[n] = 0;
		paren = strrchr(buf, ')');
		if (paren && paren[1] == ' ')
			state = paren[2];
		fclose(f);
	}
	snprintf(path, sizeof(path), "/proc/self/task/%ld/schedstat", tid);
	f = fopen(path, "r");
	if (f) {
		if (fscanf(f, "%llu %llu %llu", &run, &wait, pcount) != 3)
			*pcount = 0;
		fclose(f);
	}
	return state;
}

/* Once the waker sleeps on its pipe it comes on a CPU no more: its
 * arrivals are final, and every one of them ended in a switch away. */
static int bl_wakes(long n, const char *gate)
{
	struct bl_thread_arg a = { n, 1, 0, 0 };
	pthread_t t;

	if (pthread_create(&t, NULL, bl_waker, &a))
		return 1;
	for (int i = 0; i < 30000; i++) {
		if (__atomic_load_n(&bl_waker_done, __ATOMIC_SEQ_CST) && bl_task_state(a.tid, &a.pcount) == 'S')
			break;
		bl_sleep_ms(1);
	}
	printf("waker %ld %llu\n", a.tid, a.pcount);
	fflush(stdout);
	if (gate)
		wait_for(gate);
	return 0;
}

__attribute__((noinline)) void bl_block_wait(long ms)
{
	bl_sleep_ms(ms);
	sink++;
}

static void *bl_blocker(void *p)
{
	struct bl_thread_arg *a = p;
	double t0;

	prctl(PR_SET_NAME, "bl_blocker");
	t0 = bl_now_us();
	for (long i = 0; i < a->n; i++)
		bl_block_wait(a->ms);
	printf("blocker %ld %.0f\n", (long)syscall(SYS_gettid), bl_now_us() - t0);
	return NULL;
}

static int bl_in_thread(void *(*fn)(void *), long n, long ms)
{
	struct bl_thread_arg a = { n, ms, 0, 0 };
	pthread_t t;

	if (pthread_create(&t, NULL, fn, &a))
		return 1;
	pthread_join(t, NULL);
	fflush(stdout);
	return 0;
}

static int bl_gone_mode(int argc, char **argv);

int bl_tracer_mode(int argc, char **argv)
{
	const char *mode = argv[1];

	if (!strcmp(mode, "opens") && argc > 4) {
		char missing[4096];

		snprintf(missing, sizeof(missing), "%s.missing", argv[4]);
		for (long i = 0; i < bl_arg(argc, argv, 2); i++) {
			int fd = open(argv[4], O_RDONLY);

			if (fd < 0)
				return 1;
			close(fd);
		}
		for (long i = 0; i < bl_arg(argc, argv, 3); i++)
			if (open(missing, O_RDONLY) >= 0)
				return 1;
		return 0;
	}
	if (!strcmp(mode, "wakes"))
		return bl_wakes(bl_arg(argc, argv, 2), argc > 3 ? argv[3] : NULL);
	if (!strcmp(mode, "block") && argc > 3) {
		int rc = bl_in_thread(bl_blocker, bl_arg(argc, argv, 2), bl_arg(argc, argv, 3));

		bl_sleep_ms(500); /* a tracer can still read our memory map */
		return rc;
	}
	if (!strcmp(mode, "hog")) {
		for (long i = 0; i < bl_arg(argc, argv, 2); i++) {
			char *p = malloc(1 << 20);

			if (!p)
				return 1;
			memset(p, 1, 1 << 20);
			sink += (unsigned long)p[i % (1 << 20)];
		}
		bl_sleep_ms(1000);
		return 0;
	}
	return bl_gone_mode(argc, argv);
}

/* Processes that exit the moment their work is done, leaving no memory map
 * to read (core/maps_snapshot.c keeps what resolves their stacks):
 *
 *   workload gone-burn MS [unlink]  spins in bl_gone_spin() for MS ms of
 *                                   CPU, says its CPU time ("cpu_ms N" on
 *                                   stderr) and exits; with unlink, first
 *                                   deletes its own executable
 *   workload gone-block K MS        a thread named bl_gone_blocker blocks K
 *                                   times for MS ms in bl_gone_block_wait(),
 *                                   then the process exits
 *
 * Each says "gone PID" last, on stdout. */
__attribute__((noinline)) void bl_gone_spin(long ms)
{
	bl_burn_cpu((double)ms / 1000);
	sink++; /* not a tail call: this frame stays on the stack */
}

__attribute__((noinline)) void bl_gone_block_wait(long ms)
{
	bl_sleep_ms(ms);
	sink++;
}

static void *bl_gone_blocker(void *p)
{
	struct bl_thread_arg *a = p;

	prctl(PR_SET_NAME, "bl_gone_blocker");
	a->tid = (long)syscall(SYS_gettid);
	for (long i = 0; i < a->n; i++)
		bl_gone_block_wait(a->ms);
	return NULL;
}

static int bl_gone_mode(int argc, char **argv)
{
	if (!strcmp(argv[1], "gone-burn")) {
		char self[4096];
		ssize_t n;

		if (argc > 3 && !strcmp(argv[3], "unlink")) {
			n = readlink("/proc/self/exe", self, sizeof(self) - 1);
			if (n <= 0)
				return 1;
			self[n] = '\0';
			if (unlink(self))
				return 1;
		}
		bl_gone_spin(bl_arg(argc, argv, 2));
		say_cpu_time();
		printf("gone %d\n", (int)getpid());
		return 0;
	}
	if (!strcmp(argv[1], "gone-block") && argc > 3) {
		struct bl_thread_arg a = { bl_arg(argc, argv, 2), bl_arg(argc, argv, 3), 0, 0 };
		pthread_t t;

		if (pthread_create(&t, NULL, bl_gone_blocker, &a))
			return 1;
		pthread_join(t, NULL);
		printf("gone %d blocker %ld\n", (int)getpid(), a.tid);
		return 0;
	}
	return -1;
}
