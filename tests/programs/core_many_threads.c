/* argv[1] threads (default 2000) park on a barrier-less pause(), then main stores through
 * NULL: a core with thousands of NT_PRSTATUS notes and stack mappings. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static void *
park(void *arg)
{
	(void)arg;
	for (;;)
		pause();
	return NULL;
}

int
main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 2000;
	pthread_attr_t attr;
	volatile int *p = NULL;

	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 64 * 1024);
	for (int i = 0; i < n; i++) {
		pthread_t t;

		if (pthread_create(&t, &attr, park, NULL) != 0) {
			fprintf(stderr, "only %d threads\n", i);
			return 2;
		}
	}
	usleep(200 * 1000);
	*p = 1;
	return 0;
}
