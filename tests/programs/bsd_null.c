/* FreeBSD-format core tests: one thread stores through a NULL pointer from a named call chain. */
#include <stdio.h>

__attribute__((noinline)) static void store(volatile int *p, int v) { *p = v; }

__attribute__((noinline)) static void fault_here(void) { store((volatile int *)0, 42); }

int main(void)
{
    fault_here();
    return 0;
}
