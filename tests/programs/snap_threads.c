/* 64 worker threads parked in two different places, then one of them crashes (snapshot tests).
 * Even workers sleep in nanosleep, odd ones wait on a condition variable: gdb and the snapshot
 * must agree on every thread's stack. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define NTHREADS 64

static pthread_barrier_t ready;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t never = PTHREAD_COND_INITIALIZER;

__attribute__((noinline)) static void park_sleeping(long index)
{
    pthread_barrier_wait(&ready);
    for (;;)
        sleep(100 + (unsigned)index);
}

__attribute__((noinline)) static void park_waiting(long index)
{
    pthread_barrier_wait(&ready);
    pthread_mutex_lock(&lock);
    for (;;)
        pthread_cond_wait(&never, &lock);
    (void)index;
}

static void *worker(void *arg)
{
    long index = (long)arg;
    if (index % 2 == 0)
        park_sleeping(index);
    else
        park_waiting(index);
    return NULL;
}

__attribute__((noinline)) static void crash_in_main(int *where, int threads)
{
    int seen = threads;
    *where = seen;
}

int main(void)
{
    pthread_t tids[NTHREADS];
    pthread_barrier_init(&ready, NULL, NTHREADS + 1);
    for (long i = 0; i < NTHREADS; i++)
        if (pthread_create(&tids[i], NULL, worker, (void *)i) != 0)
            abort();
    pthread_barrier_wait(&ready);
    usleep(100000); /* let the waiters reach pthread_cond_wait */
    crash_in_main(NULL, NTHREADS);
    return 0;
}
