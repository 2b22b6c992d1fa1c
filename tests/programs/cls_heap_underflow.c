/*
 * heap-corruption: a write before the start of a heap buffer overwrites its own chunk header
 * (the size field malloc keeps just below the pointer it returned); the later free() of that
 * very pointer aborts. argv[1] picks what lands in the size field, hence glibc's message:
 *   huge      a size so big that the chunk would wrap around       "free(): invalid pointer"
 *   text      'A' bytes: a size past the heap's end               "double free or corruption (out)"
 *   mmapped   'B' bytes: IS_MMAPPED set                           "munmap_chunk(): invalid pointer"
 *   small     a size below the minimum chunk                      "free(): invalid size"
 *   big       as huge, over a chunk too big for the tcache
 *   thread    as huge, in a thread: the chunk is in the thread's arena
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

char *volatile keep[3]; /* volatile: -O2 must not drop the mallocs, the write or the frees */

static void
prepend(char *buffer, const char *header, size_t n)
{
	memcpy(buffer - n, header, n); /* the bug: writes before buffer[0] */
}

static void *
underflow(void *arg)
{
	const char *how = arg;
	size_t size = strcmp(how, "big") == 0 ? 2000 : 40;
	char *first = malloc(size);
	char *buffer = malloc(size);
	char *last = malloc(size);
	char header[8];

	memset(header, strcmp(how, "text") == 0 ? 'A' : 'B', 8);
	if (strcmp(how, "huge") == 0 || strcmp(how, "big") == 0 || strcmp(how, "thread") == 0)
		memcpy(header, "\xf0\xff\xff\xff\xff\xff\xff\xff", 8);
	if (strcmp(how, "small") == 0)
		memcpy(header, "\x11\0\0\0\0\0\0\0", 8);
	keep[0] = first, keep[1] = buffer, keep[2] = last;
	prepend(keep[1], header, 8);
	free(keep[1]);
	free(keep[0]);
	free(keep[2]);
	return NULL;
}

int
main(int argc, char **argv)
{
	const char *how = argc > 1 ? argv[1] : "huge";
	pthread_t worker;

	if (strcmp(how, "thread") == 0) {
		pthread_create(&worker, NULL, underflow, (void *)how);
		pthread_join(worker, NULL);
		return 0;
	}
	underflow((void *)how);
	return 0;
}
