/* heap-corruption: a block overflow rewrites the top chunk's size; the next malloc notices. */
#include <stdlib.h>
#include <string.h>

static void
fill(char *dst, size_t n)
{
	memset(dst, 'A', n);
}

int
main(int argc, char **argv)
{
	(void)argv;
	char *a = malloc(24);
	volatile size_t overflow = 24 + 16 + (size_t)argc - 1;

	fill(a, overflow);
	return malloc(0x2000) != NULL;
}
