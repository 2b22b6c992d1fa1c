/*
 * A multi-threaded null dereference: four named worker threads wait on a barrier-like
 * condition; one of them follows a NULL "next" pointer of a list node.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

struct node {
	int value;
	struct node *next;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t never = PTHREAD_COND_INITIALIZER;

static int
sum_list(const struct node *n)
{
	int total = 0;

	for (;;) {
		total += n->value;
		if (total > 1000) /* an exit, so -O2 cannot turn the loop into "jmp ." */
			return total;
		n = n->next->next; /* n->next is NULL for the last node */
	}
}

static void *
idle_worker(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&lock);
	for (;;)
		pthread_cond_wait(&never, &lock);
	return NULL;
}

static void *
crashing_worker(void *arg)
{
	struct node *head = arg;

	usleep(100 * 1000); /* let the idle workers reach their wait */
	printf("sum=%d\n", sum_list(head));
	return NULL;
}

int
main(void)
{
	pthread_t idle[3], crasher;
	struct node *b = calloc(1, sizeof(*b));
	struct node *a = calloc(1, sizeof(*a));
	char name[16];

	a->value = 1;
	a->next = b;
	b->value = 2;
	b->next = NULL;
	for (int i = 0; i < 3; i++) {
		pthread_create(&idle[i], NULL, idle_worker, NULL);
		snprintf(name, sizeof(name), "idle-%d", i);
		pthread_setname_np(idle[i], name);
	}
	pthread_create(&crasher, NULL, crashing_worker, a);
	pthread_setname_np(crasher, "list-walker");
	pthread_join(crasher, NULL);
	return 0;
}
