/* The agent's memory workload: allocations whose bytes are known exactly.
 *   leaker N SIZE GATE   prints its pid, waits for the file GATE, then
 *                        mallocs N blocks of SIZE bytes and keeps them,
 *                        prints "leaked", and lingers until GATE is removed
 *                        (at most 60 s).
 * Nothing else allocates once the pid is printed: stdout's buffer exists by
 * then, and waiting is access() and nanosleep(). */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct timespec ms = { 0, 10000000 };
	volatile char *keep;
	long n, size;
	int i;

	if (argc != 4)
		return 2;
	n = atol(argv[1]);
	size = atol(argv[2]);
	printf("%d\n", (int)getpid());
	fflush(stdout);
	for (i = 0; i < 6000 && access(argv[3], F_OK); i++)
		nanosleep(&ms, NULL);
	for (long k = 0; k < n; k++) {
		keep = malloc((size_t)size);
		if (!keep)
			return 1;
		keep[0] = 1;
	}
	printf("leaked\n");
	fflush(stdout);
	for (i = 0; i < 6000 && !access(argv[3], F_OK); i++)
		nanosleep(&ms, NULL);
	return 0;
}
