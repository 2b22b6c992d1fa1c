/*
 * A process with a dense heap of argv[1] MiB (every page holds non-zero data, so the kernel dumps
 * all of it), kept in a list of 1 MiB chunks. It prints "ready" once the heap is filled, waits for
 * a line on stdin, then writes through NULL: the crash can be timed apart from the filling.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct chunk {
	struct chunk *next;
	size_t index;
	char payload[1 << 20];
};

__attribute__((noinline)) static void
crash(struct chunk *head, size_t count)
{
	volatile int *nowhere = NULL;

	*nowhere = (int)(count + head->index);
}

int
main(int argc, char **argv)
{
	size_t mib = argc > 1 ? strtoul(argv[1], NULL, 10) : 2048;
	struct chunk *head = NULL;
	char line[16];

	for (size_t i = 0; i < mib; i++) {
		struct chunk *c = malloc(sizeof *c);

		if (c == NULL)
			abort();
		memset(c->payload, (int)(i % 251) + 1, sizeof c->payload);
		c->index = i;
		c->next = head;
		head = c;
	}
	printf("ready\n");
	fflush(stdout);
	if (fgets(line, sizeof line, stdin) == NULL)
		return 1;
	crash(head, mib);
	return 0;
}
