/* The benchmark's workload: N getppid() calls, timed from inside, so process
 * start-up is not part of the per-call figure.
 *   load N [GATE]  prints "<pid>" first, then "<ns per call>" at the end;
 *                  with GATE, waits for that file before starting */
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 1000000;
	struct timespec a, b, ms = { 0, 1000000 };

	printf("%d\n", (int)getpid());
	fflush(stdout);
	if (argc > 2)
		for (int i = 0; i < 60000 && access(argv[2], F_OK); i++)
			nanosleep(&ms, NULL);
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (long i = 0; i < n; i++)
		syscall(SYS_getppid);
	clock_gettime(CLOCK_MONOTONIC, &b);
	printf("%.1f\n", ((double)(b.tv_sec - a.tv_sec) * 1e9 + (double)(b.tv_nsec - a.tv_nsec)) / (double)n);
	return 0;
}
