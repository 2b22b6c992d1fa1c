/*
 * Crashes for the debug-file tests (tests/store/test_debug_files.py): one bug, a NULL store in
 * put_len, inlined into two callers (always_inline, and not so small that -O2 drops its inline
 * frame). argv[1] picks the caller ("a": via_a, else via_b), so the same bug crashes at a pc of
 * via_a or at a pc of via_b: a stripped crash through via_b has a pc its unstripped twin
 * (crashing through via_a) never had, and only a debug file names it. The pointer is NULL unless there are more than 9 arguments, so the compiler cannot see it
 * NULL and turn the store into a trap.
 */
#include <stdlib.h>
#include <string.h>

struct rec {
	int *len;
};

static int storage;

static inline __attribute__((always_inline)) void
put_len(struct rec *r, int n)
{
	if (n < 0)
		n = -n;
	*r->len = n;
}

__attribute__((noinline)) static void
via_a(struct rec *r, const char *s)
{
	put_len(r, (int)strlen(s));
}

__attribute__((noinline)) static void
via_b(struct rec *r, int n)
{
	put_len(r, n * 3 + 1);
}

/* "c": a call through a bad function pointer (a bad jump to 0x1000), made by via_c. */
__attribute__((noinline)) static void
via_c(struct rec *r, void (*fn)(struct rec *, int))
{
	fn(r, 1);
	r->len = &storage; /* after the call: not a tail call, via_c's return address is on the stack */
}

int
main(int argc, char **argv)
{
	struct rec r = { argc > 9 ? &storage : NULL };

	if (argc > 1 && strcmp(argv[1], "a") == 0)
		via_a(&r, argv[0]);
	else if (argc > 1 && strcmp(argv[1], "c") == 0)
		via_c(&r, argc > 9 ? via_b : (void (*)(struct rec *, int))0x1000);
	else
		via_b(&r, argc > 2 ? atoi(argv[2]) : 0);
	return 0;
}
