/* jobq: a sliding window of the last WINDOW latency samples (ms; -1 means timed out). */
#include <stdlib.h>

#include "jobq.h"

int *window_new(int first)
{
	int *w = calloc(WINDOW, sizeof(*w));
	for (size_t i = 0; i < WINDOW; i++)
		w[i] = first;
	return w;
}

void window_push(int *w, int sample)
{
	for (size_t i = 0; i < WINDOW; i++) /* drop the oldest */
		w[i - 1] = w[i];
	w[WINDOW - 1] = sample;
}

long window_sum(const int *w)
{
	long sum = 0;
	for (size_t i = 0; i < WINDOW; i++)
		sum += w[i];
	return sum;
}
