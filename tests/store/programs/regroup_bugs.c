/*
 * Crashes for the store's regroup tests (tests/store/test_regroup*.py). argv[1] picks the bug:
 *   "width N"  a NULL store in set_width: one bug, whatever N is
 *   "sites"    stdin's first byte picks one of two NULL stores in check_pair ('a': the line of
 *              *b->width, else the line of *b->height): one command line, two bugs
 * The pointers are NULL unless there are more than 9 arguments, so the compiler cannot see
 * them NULL and turn the stores into traps; the barrier keeps -O2 from merging the two stores
 * of check_pair into one (select the address, then one store on one line).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct box {
	int *width;
	int *height;
};

static int storage;

__attribute__((noinline)) static void
set_width(struct box *b, int v)
{
	*b->width = v;
}

__attribute__((noinline)) static void
check_pair(struct box *b, int which)
{
	if (which == 'a') {
		*b->width = 1;
		return;
	}
	__asm__ volatile("" ::: "memory");
	*b->height = 2;
}

int
main(int argc, char **argv)
{
	int *p = argc > 9 ? &storage : NULL;
	struct box b = { p, p };

	if (argc > 2 && strcmp(argv[1], "width") == 0)
		set_width(&b, atoi(argv[2]));
	else if (argc > 1 && strcmp(argv[1], "sites") == 0)
		check_pair(&b, getchar());
	return 0;
}
