/* exec-nonexec: a call into a heap buffer (mapped rw-, not executable). */
#include <stdlib.h>
#include <string.h>

typedef void (*code_fn)(void);

int
main(void)
{
	unsigned char *code = malloc(64);

	memset(code, 0xc3, 64); /* ret */
	((code_fn)code)();
	return 0;
}
