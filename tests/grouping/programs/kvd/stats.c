/* kvd: counters, as the STATS command and the event log show them. */
#include "stats.h"

#include <stdio.h>

unsigned long stats_hit_ratio(const struct cache *c)
{
	unsigned long lookups = c->hits + c->misses;
	return c->hits * 100 / lookups;
}

void stats_report(const struct cache *c)
{
	printf("entries %zu/%zu hits %lu misses %lu ratio %lu%%\n", c->count, c->capacity, c->hits,
	       c->misses, stats_hit_ratio(c));
}

void stats_log(const struct cache *c, const char *event)
{
	fprintf(stderr, "[%s] ratio=%lu%%\n", event, stats_hit_ratio(c));
}
