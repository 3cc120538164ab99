/* The semaphore-guarded probe of usdt_prog.c: the probe's arguments are
 * computed only while a tracer holds the semaphore, as runtimes do it. */
#define _SDT_HAS_SEMAPHORES 1
#include <sys/sdt.h>

unsigned short bltest_guarded_semaphore __attribute__((section(".probes"))) = 0;

int bl_guarded(long i)
{
	static const char name[] = "guarded-name";

	if (!bltest_guarded_semaphore)
		return 0;
	DTRACE_PROBE2(bltest, guarded, 7 * i, name);
	return 1;
}
