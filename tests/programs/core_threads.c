/* Five threads: four named with pthread_setname_np wait; the last named one stores through a
 * NULL pointer. Each prints "tid <tid> <name>" first so the test knows every thread id. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>

static pthread_barrier_t ready;

static void
announce(const char *name)
{
	char line[64];
	int n = snprintf(line, sizeof(line), "tid %ld %s\n", (long)syscall(SYS_gettid), name);

	write(1, line, (size_t)n);
}

static void *
waiter(void *arg)
{
	char name[16];

	snprintf(name, sizeof(name), "waiter-%ld", (long)arg);
	pthread_setname_np(pthread_self(), name);
	announce(name);
	pthread_barrier_wait(&ready);
	for (;;)
		pause();
	return NULL;
}

static void *
crasher(void *arg)
{
	volatile int *p = arg;

	pthread_setname_np(pthread_self(), "crasher");
	announce("crasher");
	pthread_barrier_wait(&ready);
	usleep(50 * 1000);
	*p = 1;
	return NULL;
}

int
main(void)
{
	pthread_t t[4];

	pthread_barrier_init(&ready, NULL, 5);
	announce("main");
	for (long i = 0; i < 3; i++)
		pthread_create(&t[i], NULL, waiter, (void *)i);
	pthread_create(&t[3], NULL, crasher, NULL);
	pthread_barrier_wait(&ready);
	pthread_join(t[3], NULL);
	return 0;
}
