/*
 * A crash on demand for the capture pipeline tests: argv[1] picks how to die.
 *   segv      write through NULL
 *   abort     abort()
 *   fpe       integer division by zero
 *   big N     touch N MiB (half zero pages, half data) then SIGSEGV: a core worth sparsing
 *   threads N start N threads that wait, then SIGSEGV in main
 */
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static volatile int zero;

static void *
idle(void *arg)
{
	(void)arg;
	for (;;)
		pause();
	return NULL;
}

static void
segv(void)
{
	*(volatile int *)0 = 1;
}

int
main(int argc, char **argv)
{
	const char *how = argc > 1 ? argv[1] : "segv";
	long n = argc > 2 ? atol(argv[2]) : 1;

	if (strcmp(how, "abort") == 0)
		abort();
	if (strcmp(how, "fpe") == 0)
		return (int)n * 7 / zero; /* not 1 / x: gcc turns that into a compare */
	if (strcmp(how, "big") == 0) {
		size_t size = (size_t)n << 20;
		char *p = malloc(size);
		memset(p, 0, size);
		for (size_t i = 0; i < size / 2; i += 64)
			p[i] = (char)(i * 7 + 1);
	}
	if (strcmp(how, "threads") == 0) {
		pthread_t t;
		for (long i = 0; i < n; i++)
			pthread_create(&t, NULL, idle, NULL);
		usleep(10000);
	}
	segv();
	return 0;
}
