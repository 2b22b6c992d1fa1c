/* raised: the program sends itself SIGSEGV with raise() -- deliberate, not a memory fault. */
#include <signal.h>

static void
bail_out(void)
{
	raise(SIGSEGV);
}

int
main(void)
{
	bail_out();
	return 0;
}
