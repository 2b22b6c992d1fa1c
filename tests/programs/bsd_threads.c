/* FreeBSD-format core tests: three threads named with pthread_setname_np; the last one
 * dereferences NULL once the others are parked. Each thread prints "tid <tid> <name>" first
 * (with write(2), so nothing is lost in a stdio buffer) so the test knows every thread id. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>

static pthread_barrier_t ready;

static void announce(const char *name)
{
    char line[64];
    int n = snprintf(line, sizeof(line), "tid %ld %s\n", (long)syscall(SYS_gettid), name);
    write(1, line, (size_t)n);
}

static void *idler(void *arg)
{
    (void)arg;
    pthread_setname_np(pthread_self(), "bsd-idler");
    announce("bsd-idler");
    pthread_barrier_wait(&ready);
    for (;;)
        pause();
    return NULL;
}

static void *crasher(void *arg)
{
    volatile int *p = arg;
    pthread_setname_np(pthread_self(), "bsd-crasher");
    announce("bsd-crasher");
    pthread_barrier_wait(&ready);
    usleep(50 * 1000);
    *p = 7;
    return NULL;
}

int main(void)
{
    pthread_t a, b;
    pthread_barrier_init(&ready, NULL, 3);
    pthread_setname_np(pthread_self(), "bsd-main");
    announce("bsd-main");
    pthread_create(&a, NULL, idler, NULL);
    pthread_create(&b, NULL, crasher, NULL);
    pthread_barrier_wait(&ready);
    pthread_join(b, NULL);
    return 0;
}
