/* jobq: a wheel of one-shot timers. */
#include <stdlib.h>

#include "jobq.h"

#define MAX_TIMERS 16

static struct timer *wheel[MAX_TIMERS];
static int ntimers;
static unsigned long fired;

struct timer *timer_add(void (*cb)(void *), void *arg, unsigned long deadline)
{
	struct timer *t = malloc(sizeof(*t));
	t->cb = cb;
	t->arg = arg;
	t->deadline = deadline;
	if (ntimers < MAX_TIMERS)
		wheel[ntimers++] = t;
	return t;
}

void timer_cancel(struct timer *t)
{
	free(t); /* still in the wheel: timers_run will find it */
}

void timer_fire(struct timer *t)
{
	t->cb(t->arg);
	fired++;
}

int timers_run(unsigned long now)
{
	int n = 0;
	for (int i = 0; i < ntimers; i++) {
		if (wheel[i] && wheel[i]->deadline <= now) {
			timer_fire(wheel[i]);
			wheel[i] = NULL;
			n++;
		}
	}
	return n;
}
