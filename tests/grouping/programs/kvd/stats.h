#ifndef KVD_STATS_H
#define KVD_STATS_H

#include "cache.h"

unsigned long stats_hit_ratio(const struct cache *c);
void stats_report(const struct cache *c);
void stats_log(const struct cache *c, const char *event);

#endif
