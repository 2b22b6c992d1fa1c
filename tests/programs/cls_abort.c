/* abort: the program calls abort() itself. */
#include <stdlib.h>

static void
give_up(void)
{
	abort();
}

int
main(void)
{
	give_up();
	return 0;
}
