/*
 * The seeds' "simple" program (seed 000/002): a use-after-free through a pointer kept in a
 * freed block. With glibc's tcache, the block is handed out again by the next malloc(8), its
 * first word is overwritten, and free() stores a safe-linked tcache pointer there, so the final
 * store goes to an address derived from the heap: a write through freed memory.
 */
#include <stdlib.h>
#include <string.h>

static char buffer[64];

static void
program(void)
{
	void **r;
	char *poop;

	r = malloc(sizeof(void *));
	*r = buffer;
	free(r);

	poop = malloc(8);
	strcpy(poop, "AAAAAA");
	free(poop);

	**(char **)r = '0';
	return;
}

int
main(void)
{
	program();
	return 0;
}
