/* invalid-free: free() of a pointer into the middle of a block (not one malloc returned). */
#include <stdlib.h>

int
main(void)
{
	char *p = malloc(64);

	free(p + 1);
	return 0;
}
