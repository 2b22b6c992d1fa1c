/* kvd: an LRU key-value cache with chained buckets. */
#ifndef KVD_CACHE_H
#define KVD_CACHE_H

#include <stddef.h>

struct entry {
	struct entry *next; /* bucket chain */
	struct entry *lru_prev, *lru_next;
	char *key;
	char *value;
	size_t vlen;
};

struct cache {
	struct entry **buckets;
	size_t nbuckets;
	size_t count;
	size_t capacity;
	struct entry *lru_head, *lru_tail;
	unsigned long hits, misses;
};

struct cache *cache_new(size_t nbuckets, size_t capacity);
int cache_put(struct cache *c, const char *key, const char *value);
const char *cache_get(struct cache *c, const char *key);
int cache_del(struct cache *c, const char *key);
void cache_evict(struct cache *c);
void cache_resize(struct cache *c, size_t capacity);

#endif
