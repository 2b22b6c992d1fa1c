/* jobq: a job queue run by a pool of worker threads, with timers. */
#ifndef JOBQ_H
#define JOBQ_H

#include <stddef.h>

enum job_kind { JOB_BLOB, JOB_COUNT, JOB_SAMPLES, JOB_RETRY };
enum job_state { JOB_QUEUED, JOB_RUNNING, JOB_DONE, JOB_FAILED, JOB_RETRYING };

#define MAX_DEPS 4
#define WINDOW 4

struct blob {
	size_t size;
	unsigned char *data;
};

struct job {
	int id;
	enum job_kind kind;
	enum job_state state;
	union {
		struct blob *blob;   /* JOB_BLOB */
		long count; /* JOB_COUNT; JOB_SAMPLES: the first sample */
	} u;
	struct job *deps[MAX_DEPS];
	int ndeps;
	int *window; /* JOB_SAMPLES */
	unsigned long total;
};

struct timer {
	void (*cb)(void *);
	void *arg;
	unsigned long deadline;
};

/* job.c */
struct job *job_new(int id, enum job_kind kind);
void job_run(struct job *j);
enum job_state job_advance(struct job *j);
void job_finish(struct job *j);
int dep_depth(const struct job *j);

/* window.c */
int *window_new(int first);
void window_push(int *w, int sample);
long window_sum(const int *w);

/* timer.c */
struct timer *timer_add(void (*cb)(void *), void *arg, unsigned long deadline);
void timer_cancel(struct timer *t);
void timer_fire(struct timer *t);
int timers_run(unsigned long now);

/* pool.c */
void pool_run(struct job **jobs, int njobs, int nworkers);

#endif
