/* jobq: what running a job means. */
#include <stdio.h>
#include <stdlib.h>

#include "jobq.h"

struct job *job_new(int id, enum job_kind kind)
{
	struct job *j = calloc(1, sizeof(*j));
	j->id = id;
	j->kind = kind;
	return j;
}

void job_run(struct job *j)
{
	j->state = JOB_RUNNING;
	switch (j->kind) {
	case JOB_BLOB:
	case JOB_COUNT:
		/* counts were once blobs of that many bytes: both are "sized" jobs */
		j->total += j->u.blob->size;
		break;
	case JOB_SAMPLES:
		j->window = window_new((int)j->u.count);
		for (int ms = 10; ms <= 30; ms += 10)
			window_push(j->window, ms);
		j->total = (unsigned long)window_sum(j->window);
		break;
	case JOB_RETRY:
		j->state = JOB_RETRYING;
		break;
	}
}

enum job_state job_advance(struct job *j)
{
	switch (j->state) {
	case JOB_QUEUED:
		return JOB_RUNNING;
	case JOB_RUNNING:
		return j->total ? JOB_DONE : JOB_FAILED;
	case JOB_DONE:
	case JOB_FAILED:
		return j->state;
	default:
		__builtin_trap(); /* every state is handled above */
	}
}

void job_finish(struct job *j)
{
	if (j->window) {
		printf("job %d: %lu ms over the window\n", j->id, j->total);
		free(j->window);
		j->window = NULL;
	}
}

int dep_depth(const struct job *j)
{
	int depth = 0;
	for (int i = 0; i < j->ndeps; i++) {
		int d = 1 + dep_depth(j->deps[i]);
		if (d > depth)
			depth = d;
	}
	return depth;
}
