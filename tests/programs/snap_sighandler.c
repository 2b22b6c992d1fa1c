// A crash inside a signal handler: SIGUSR1 raised from nested calls, the handler writes
// through a NULL pointer (snapshot tests: the signal trampoline frame).
#include <signal.h>
#include <stdio.h>
#include <string.h>

static volatile int *volatile target;

static void __attribute__((noinline)) on_usr1(int sig)
{
    *target = sig;  // SIGSEGV inside the handler
}

static int __attribute__((noinline)) wait_for_signal(int depth)
{
    if (depth > 0)
        return wait_for_signal(depth - 1) + 1;
    raise(SIGUSR1);
    return 0;
}

int main(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1;
    sigaction(SIGUSR1, &sa, NULL);
    printf("%d\n", wait_for_signal(2));
    return 0;
}
