/*
 * invalid-pointer: a non-NULL pointer into no mapping is read. Canonical by default (the kernel
 * reports the address, SEGV_MAPERR); argv[1] == "gp" uses a non-canonical one (a general
 * protection fault: SI_KERNEL, no address).
 */
#include <stdint.h>
#include <string.h>

static long
load(const long *p)
{
	return *p + 1;
}

int
main(int argc, char **argv)
{
	volatile uintptr_t bad = 0x100dead0000ULL;

	if (argc > 1 && strcmp(argv[1], "gp") == 0)
		bad = 0xdead0000beef0000ULL;
	return (int)load((const long *)bad);
}
