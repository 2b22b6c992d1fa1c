/*
 * A call through a bad function pointer from an inline function: at -O2, fire() is inlined into
 * run_timers(), so the only trace of both is the return address the call left at sp. gdb's
 * backtrace: ?? (the bad pc), fire (inline), run_timers, main.
 */
#include <stdio.h>

struct timer {
	void (*cb)(void *);
	void *arg;
};

static unsigned long fired;

static inline void
fire(struct timer *t)
{
	t->cb(t->arg);
	fired++;
}

__attribute__((noinline)) static int
run_timers(struct timer **wheel, int n)
{
	int done = 0;
	for (int i = 0; i < n; i++) {
		if (wheel[i]) {
			fire(wheel[i]);
			wheel[i] = NULL;
			done++;
		}
	}
	return done;
}

int
main(int argc, char **argv)
{
	(void)argv;
	struct timer t = { (void (*)(void *))(unsigned long)(0x41414141 + argc), NULL };
	struct timer *wheel[2] = { &t, NULL };
	printf("%d\n", run_timers(wheel, 2));
	return (int)fired;
}
