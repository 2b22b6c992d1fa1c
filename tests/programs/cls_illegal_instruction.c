/* illegal-instruction: __builtin_trap() emits ud2 (SIGILL, ILL_ILLOPN). */
static void
unreachable_state(int state)
{
	if (state < 10)
		__builtin_trap();
}

int
main(int argc, char **argv)
{
	(void)argv;
	unreachable_state(argc);
	return 0;
}
