/* Allocate and touch argv[1] MiB (every page written, so every page is dumped), then store
 * through NULL: the big core for bench/inspect_big_core.py. */
#include <stdlib.h>
#include <string.h>

int
main(int argc, char **argv)
{
	size_t mib = argc > 1 ? strtoul(argv[1], NULL, 10) : 2048;
	char *heap = malloc(mib << 20);
	volatile int *p = NULL;

	if (heap == NULL)
		return 2;
	for (size_t i = 0; i < (mib << 20); i += 4096)
		heap[i] = (char)i | 1;
	*p = heap[4096];
	return 0;
}
