/* jobq: read jobs and timer commands from stdin, then run the jobs on a worker pool.
 *
 *   jobq [--workers N] [--prefill N] < script
 *
 *   blob SIZE | count N | samples FIRST | retry     a job
 *   dep I J                                    job I waits for job J
 *   timer DEADLINE | cancel | span START LEN   timers of the last job; a span record
 *   tick NOW                                   run the timers due
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jobq.h"

#define MAX_JOBS 64

struct span {
	unsigned long start, len;
	unsigned long flags;
};

static struct job *jobs[MAX_JOBS];
static int njobs;
static struct timer *last_timer;
static void *warm[64]; /* --prefill: allocations made before the jobs (another heap layout) */

static void on_timer(void *arg)
{
	struct job *j = arg;
	fprintf(stderr, "timer of job %d\n", j->id);
}

static void add_job(enum job_kind kind, long value)
{
	if (njobs == MAX_JOBS)
		return;
	struct job *j = job_new(njobs, kind);
	if (kind == JOB_BLOB) {
		j->u.blob = malloc(sizeof(*j->u.blob));
		j->u.blob->size = (size_t)value;
		j->u.blob->data = calloc(1, (size_t)value);
	} else {
		j->u.count = value;
	}
	jobs[njobs++] = j;
}

static void command(const char *verb, long a, long b)
{
	if (strcmp(verb, "blob") == 0)
		add_job(JOB_BLOB, a);
	else if (strcmp(verb, "count") == 0)
		add_job(JOB_COUNT, a);
	else if (strcmp(verb, "samples") == 0)
		add_job(JOB_SAMPLES, a);
	else if (strcmp(verb, "retry") == 0)
		add_job(JOB_RETRY, 0);
	else if (strcmp(verb, "dep") == 0 && a >= 0 && b >= 0 && a < njobs && b < njobs &&
		 jobs[a]->ndeps < MAX_DEPS)
		jobs[a]->deps[jobs[a]->ndeps++] = jobs[b];
	else if (strcmp(verb, "timer") == 0 && njobs)
		last_timer = timer_add(on_timer, jobs[njobs - 1], (unsigned long)a);
	else if (strcmp(verb, "cancel") == 0 && last_timer)
		timer_cancel(last_timer);
	else if (strcmp(verb, "span") == 0) {
		struct span *s = malloc(sizeof(*s));
		*s = (struct span){(unsigned long)a, (unsigned long)b, 0};
		fprintf(stderr, "span %lx+%lu\n", s->start, s->len);
	} else if (strcmp(verb, "tick") == 0)
		timers_run((unsigned long)a);
}

int main(int argc, char **argv)
{
	int workers = 2;
	for (int i = 1; i + 1 < argc; i++) {
		if (strcmp(argv[i], "--workers") == 0)
			workers = atoi(argv[++i]);
		else if (strcmp(argv[i], "--prefill") == 0)
			for (int n = atoi(argv[++i]); n > 0; n--)
				warm[n % 64] = malloc((size_t)(16 * n));
	}
	char line[128], verb[16];
	while (fgets(line, sizeof(line), stdin)) {
		long a = 0, b = 0;
		if (sscanf(line, "%15s %li %li", verb, &a, &b) >= 1)
			command(verb, a, b);
	}
	pool_run(jobs, njobs, workers);
	return 0;
}
