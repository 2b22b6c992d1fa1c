/*
 * bad-jump, not use-after-free: calls through function pointers that are corrupt where they
 * live, never in a freed chunk. argv[1]:
 *   global  a global pointer set to an unmapped address
 *   stack   a local pointer overwritten with text (non-canonical: the call itself faults)
 *   heap    a fresh heap object whose callback was never set (NULL)
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef void (*handler_fn)(void *);

struct job {
	long id;
	handler_fn run;
};

handler_fn volatile on_event; /* volatile: every call loads it from the global */

static void
fire(handler_fn fn, void *arg)
{
	fn(arg);
}

int
main(int argc, char **argv)
{
	const char *how = argc > 1 ? argv[1] : "global";

	if (strcmp(how, "global") == 0) {
		on_event = (handler_fn)(uintptr_t)0x41414141000ULL;
		on_event(argv);
	} else if (strcmp(how, "stack") == 0) {
		handler_fn local[2] = {0, 0};
		memcpy(local, "AAAAAAAABBBBBBBB", 16);
		fire(local[argc - 2], argv);
	} else {
		struct job *job = calloc(1, sizeof *job);
		job->id = argc;
		job->run(job);
	}
	return 0;
}
