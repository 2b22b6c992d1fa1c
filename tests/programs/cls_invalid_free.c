/*
 * invalid-free: free() of a pointer malloc never returned. argv[1]:
 *   (none)    a pointer one byte into a block (misaligned)
 *   interior  a pointer 16 bytes into a block (aligned, but not a chunk start)
 *   stack     the address of a local array
 *   global    the address of a global array
 * The word below each aligned pointer (where a chunk's size would be) is 0.
 */
#include <stdlib.h>
#include <string.h>

_Alignas(16) long table[4];

int
main(int argc, char **argv)
{
	_Alignas(16) long frame[4] = {0, 0, 0, 0};
	char *p = calloc(1, 64);
	const char *how = argc > 1 ? argv[1] : "";

	if (strcmp(how, "interior") == 0)
		free(p + 16);
	else if (strcmp(how, "stack") == 0)
		free(&frame[2]);
	else if (strcmp(how, "global") == 0)
		free(&table[2]);
	else
		free(p + 1);
	return (int)frame[0];
}
