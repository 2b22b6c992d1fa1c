/* div-by-zero: integer division by zero traps (SIGFPE, FPE_INTDIV). */
static int
ratio(int a, int b)
{
	return a / b;
}

int
main(int argc, char **argv)
{
	(void)argv;
	return ratio(100, argc - 1);
}
