/*
 * stack-overflow: unbounded recursion runs the stack into its guard. On the main thread that is
 * the kernel's stack guard gap below the grown stack; with argv[1] == "thread" it is the
 * PROT_NONE guard page glibc maps below a thread's stack.
 */
#include <pthread.h>
#include <string.h>

static int
recurse(int depth)
{
	volatile char pad[256];

	pad[0] = (char)depth;
	return recurse(depth + 1) + pad[0];
}

static void *
worker(void *arg)
{
	(void)arg;
	recurse(0);
	return NULL;
}

int
main(int argc, char **argv)
{
	pthread_t t;

	if (argc > 1 && strcmp(argv[1], "thread") == 0) {
		pthread_create(&t, NULL, worker, NULL);
		pthread_join(t, NULL);
		return 0;
	}
	return recurse(0);
}
