/* breakpoint: a compiled-in int3 with no debugger attached (SIGTRAP from the kernel). */
static void
debug_hook(int level)
{
	if (level > 0)
		__asm__ volatile("int3");
}

int
main(int argc, char **argv)
{
	(void)argv;
	debug_hook(argc);
	return 0;
}
