/* Integer division by zero: SIGFPE with si_code FPE_INTDIV and si_addr = the idiv. */
#include <stdio.h>

int
main(int argc, char **argv)
{
	volatile int zero = argc - 1;

	(void)argv;
	printf("%d\n", 100 / zero);
	return 0;
}
