/* bad-jump: a call through a function pointer to an address no mapping covers. */
#include <stdint.h>

typedef void (*handler_fn)(void);

static void
dispatch(handler_fn fn)
{
	fn();
}

int
main(void)
{
	volatile uintptr_t target = 0x41414141000ULL;

	dispatch((handler_fn)target);
	return 0;
}
