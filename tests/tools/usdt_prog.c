/* USDT probes for the USDT tests, from <sys/sdt.h>:
 *
 *   usdt_prog N [GATE]   prints its pid, waits until GATE exists (the tracer
 *                        is ready), then for i in 0..N-1:
 *     bltest:tick(i, -3 * i)       no semaphore; an int and a negative long
 *     bltest:multi(x)              two sites, reading x differently: i, then i + 1000
 *     bltest:guarded(7 * i, name)  only while its semaphore is set (a tracer is
 *                                  attached), as runtimes guard costly probes
 *   and says on stdout how often it saw the semaphore set (usdt_guarded.c:
 *   with semaphores, every probe of a file needs one). */
#include <sys/sdt.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int bl_guarded(long i); /* usdt_guarded.c: 1 if the probe was enabled */

volatile long sink;

__attribute__((noinline)) static void site_a(long x)
{
	DTRACE_PROBE1(bltest, multi, x);
	sink += x;
}

__attribute__((noinline)) static void site_b(long x)
{
	volatile long y = x + 1000;

	/* read from the stack, not from site_a's register */
	DTRACE_PROBE1(bltest, multi, y);
	sink += y * 3;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 0, seen = 0;

	printf("%d\n", (int)getpid());
	fflush(stdout);
	if (argc > 2)
		while (access(argv[2], F_OK))
			usleep(10000);
	for (long i = 0; i < n; i++) {
		int ii = (int)i;
		long neg = -3 * i;

		DTRACE_PROBE2(bltest, tick, ii, neg);
		site_a(i);
		site_b(i);
		seen += bl_guarded(i);
	}
	printf("semaphore seen %ld\n", seen);
	return 0;
}
