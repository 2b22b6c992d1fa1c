/*
 * use-after-free through a fastbin chunk: seven frees fill the 0x20 tcache bin, the eighth goes
 * to fastbin 0 (also safe-linked), and the pointer kept in that block is used. A freed 0x510
 * block (too big for the tcache) sits in the unsorted bin for the annotations.
 */
#include <stdlib.h>

static char buffer[64];

int
main(void)
{
	void *blocks[8];
	char *big = malloc(0x500);
	void *guard = malloc(16); /* keeps `big` from merging into the top chunk */

	for (int i = 0; i < 8; i++) {
		blocks[i] = malloc(24);
		*(char **)blocks[i] = buffer;
	}
	free(big);
	for (int i = 0; i < 8; i++)
		free(blocks[i]);
	**(char **)blocks[7] = '0';
	free(guard);
	return 0;
}
