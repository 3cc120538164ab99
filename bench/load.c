/* The benchmark's workload, timed from inside, so process start-up is not
 * part of the per-call figure.
 *   load [MODE] N [GATE]  prints "<pid>" first, then "<ns per call>" at the
 *                         end; with GATE, waits for that file before starting
 * MODE: getppid (default): N getppid() calls;
 *       malloc: N malloc(64)/free pairs through libc (what memleak probes);
 *       spin: N rounds of a fixed arithmetic loop (what a sampling profiler
 *       slows down). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* called through volatile pointers: the compiler may not fold a
 * malloc/free pair away, and the uprobes see every call */
static void *(*volatile do_malloc)(size_t) = malloc;
static void (*volatile do_free)(void *) = free;

static volatile uint64_t sink;

static void spin_round(void)
{
	uint64_t x = sink + 1;

	for (int i = 0; i < 1000; i++)
		x = x * 6364136223846793005ULL + 1442695040888963407ULL;
	sink = x;
}

int main(int argc, char **argv)
{
	const char *mode = "getppid";
	struct timespec a, b, ms = { 0, 1000000 };

	if (argc > 1 && (argv[1][0] < '0' || argv[1][0] > '9')) {
		mode = argv[1];
		argc--;
		argv++;
	}
	long n = argc > 1 ? atol(argv[1]) : 1000000;
	if (strcmp(mode, "getppid") && strcmp(mode, "malloc") && strcmp(mode, "spin")) {
		fprintf(stderr, "load: unknown mode %s (getppid, malloc, spin)\n", mode);
		return 2;
	}
	printf("%d\n", (int)getpid());
	fflush(stdout);
	if (argc > 2)
		for (int i = 0; i < 60000 && access(argv[2], F_OK); i++)
			nanosleep(&ms, NULL);
	clock_gettime(CLOCK_MONOTONIC, &a);
	if (!strcmp(mode, "malloc")) {
		for (long i = 0; i < n; i++)
			do_free(do_malloc(64));
	} else if (!strcmp(mode, "spin")) {
		for (long i = 0; i < n; i++)
			spin_round();
	} else {
		for (long i = 0; i < n; i++)
			syscall(SYS_getppid);
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	printf("%.1f\n", ((double)(b.tv_sec - a.tv_sec) * 1e9 + (double)(b.tv_nsec - a.tv_nsec)) / (double)n);
	return 0;
}
