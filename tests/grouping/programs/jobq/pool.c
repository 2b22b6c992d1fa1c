/* jobq: worker threads; worker w runs jobs w, w + n, w + 2n, ... */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "jobq.h"

/* Small stacks: a pool of many workers must not reserve 8 MiB each. */
#define WORKER_STACK (256 * 1024)

struct worker {
	pthread_t thread;
	int index, nworkers, njobs;
	struct job **jobs;
};

static void run_one(struct job *j)
{
	int depth = dep_depth(j);
	job_run(j);
	j->state = job_advance(j);
	job_finish(j);
	if (depth > 8)
		fprintf(stderr, "job %d: deep dependency chain (%d)\n", j->id, depth);
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	for (int i = w->index; i < w->njobs; i += w->nworkers)
		run_one(w->jobs[i]);
	return NULL;
}

void pool_run(struct job **jobs, int njobs, int nworkers)
{
	if (nworkers == 0) {
		for (int i = 0; i < njobs; i++)
			run_one(jobs[i]);
		return;
	}
	struct worker *workers = calloc((size_t)nworkers, sizeof(*workers));
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, WORKER_STACK);
	for (int w = 0; w < nworkers; w++) {
		workers[w] = (struct worker){0, w, nworkers, njobs, jobs};
		pthread_create(&workers[w].thread, &attr, worker_main, &workers[w]);
	}
	for (int w = 0; w < nworkers; w++)
		pthread_join(workers[w].thread, NULL);
	free(workers);
}
