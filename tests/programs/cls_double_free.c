/* double-free: the same block is freed twice; glibc's tcache check aborts. */
#include <stdlib.h>
#include <string.h>

static void
release(char *p)
{
	free(p);
}

int
main(void)
{
	char *p = malloc(32);

	strcpy(p, "hello");
	release(p);
	release(p);
	return 0;
}
