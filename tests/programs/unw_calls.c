/* Call chains for the unwinder tests: each mode dies a different way, at the end of a chain of
 * distinct functions (some inlined at -O2), with extra threads parked in the kernel.
 *   segv     null write at depth            abort    abort() from a leaf (libc frames)
 *   handler  SIGSEGV inside a SIGUSR1 handler (a signal frame in the middle of the stack)
 *   threads  like segv, with 3 more threads blocked in different calls
 *   badcall  a call through a null function pointer (pc 0 in frame 0)
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NOINLINE __attribute__((noinline))

volatile int *volatile null_pointer;
void (*volatile null_function)(int);
static const char *mode = "segv";
static pthread_barrier_t ready;

NOINLINE void crash_here(int depth) {
    if (strcmp(mode, "abort") == 0)
        abort();
    if (strcmp(mode, "badcall") == 0)
        null_function(depth); /* SIGSEGV at pc 0 */
    *null_pointer = depth; /* SIGSEGV */
}

static inline int inlined_twice(int x) {
    crash_here(x);
    return x + 1;
}

static inline int inlined_once(int x) { return inlined_twice(x * 2) + 1; }

NOINLINE int level3(int x) { return inlined_once(x) + 3; }
NOINLINE int level2(int x) { return level3(x + 1) * 2; }
NOINLINE int level1(int x) { return level2(x + 1) - 1; }

NOINLINE int recurse(int n, int x) {
    if (n == 0)
        return level1(x);
    return recurse(n - 1, x + n) + 1;
}

static void on_usr1(int sig) { recurse(2, sig); }

NOINLINE void parked_in_pause(void) {
    pthread_barrier_wait(&ready);
    for (;;)
        pause();
}

NOINLINE void parked_in_read(void) {
    int fds[2];
    char c;
    if (pipe(fds) != 0)
        abort();
    pthread_barrier_wait(&ready);
    for (;;)
        if (read(fds[0], &c, 1) < 0)
            abort();
}

NOINLINE void parked_in_sleep(void) {
    pthread_barrier_wait(&ready);
    for (;;)
        sleep(100);
}

static void *thread_main(void *arg) {
    long which = (long)arg;
    if (which == 0)
        parked_in_pause();
    else if (which == 1)
        parked_in_read();
    else
        parked_in_sleep();
    return NULL;
}

int main(int argc, char **argv) {
    if (argc > 1)
        mode = argv[1];
    if (strcmp(mode, "threads") == 0) {
        pthread_t t[3];
        pthread_barrier_init(&ready, NULL, 4);
        for (long i = 0; i < 3; i++)
            pthread_create(&t[i], NULL, thread_main, (void *)i);
        pthread_barrier_wait(&ready);
        usleep(20000); /* let them reach their blocking call */
    }
    if (strcmp(mode, "handler") == 0) {
        signal(SIGUSR1, on_usr1);
        raise(SIGUSR1);
        return 0;
    }
    return recurse(3, argc) == 42;
}
