/* kvd: the cache proper. Entries live in a bucket chain and in an LRU list at once. */
#include "cache.h"

#include <stdlib.h>
#include <string.h>

#define MAX_VALUE 64

static size_t hash(const char *key)
{
	size_t h = 0;
	while (*key)
		h += (unsigned char)*key++;
	return h;
}

struct cache *cache_new(size_t nbuckets, size_t capacity)
{
	struct cache *c = calloc(1, sizeof(*c));
	c->buckets = calloc(nbuckets, sizeof(*c->buckets));
	c->nbuckets = nbuckets;
	c->capacity = capacity;
	return c;
}

static void lru_push(struct cache *c, struct entry *e)
{
	e->lru_prev = NULL;
	e->lru_next = c->lru_head;
	if (c->lru_head)
		c->lru_head->lru_prev = e;
	c->lru_head = e;
	if (!c->lru_tail)
		c->lru_tail = e;
}

static void lru_unlink(struct cache *c, struct entry *e)
{
	if (e->lru_prev)
		e->lru_prev->lru_next = e->lru_next;
	else
		c->lru_head = e->lru_next;
	if (e->lru_next)
		e->lru_next->lru_prev = e->lru_prev;
	else
		c->lru_tail = e->lru_prev;
}

static void entry_free(struct entry *e)
{
	free(e->key);
	free(e->value);
	free(e);
}

static struct entry *find(struct cache *c, const char *key, struct entry ***link)
{
	struct entry **pp = &c->buckets[hash(key) % c->nbuckets];
	for (struct entry *e = *pp; e; pp = &e->next, e = e->next) {
		if (strcmp(e->key, key) == 0) {
			if (link)
				*link = pp;
			return e;
		}
	}
	return NULL;
}

void cache_evict(struct cache *c)
{
	struct entry *victim = c->lru_tail;
	c->lru_tail = victim->lru_prev;
	if (c->lru_tail)
		c->lru_tail->lru_next = NULL;
	else
		c->lru_head = NULL;
	struct entry **link;
	if (find(c, victim->key, &link))
		*link = victim->next;
	entry_free(victim);
	c->count--;
}

int cache_put(struct cache *c, const char *key, const char *value)
{
	struct entry *e = find(c, key, NULL);
	if (e) {
		free(e->value);
		if (strlen(value) > MAX_VALUE)
			return -1; /* the old value is gone but e->value still points at it */
		e->value = strdup(value);
		e->vlen = strlen(value);
		lru_unlink(c, e);
		lru_push(c, e);
		return 0;
	}
	if (c->count >= c->capacity)
		cache_evict(c);
	e = calloc(1, sizeof(*e));
	e->key = strdup(key);
	e->value = strdup(value);
	e->vlen = strlen(value);
	size_t b = hash(key) % c->nbuckets;
	e->next = c->buckets[b];
	c->buckets[b] = e;
	lru_push(c, e);
	c->count++;
	return 0;
}

const char *cache_get(struct cache *c, const char *key)
{
	for (struct entry *e = c->buckets[hash(key) % c->nbuckets]; e; e = e->next) {
		if (strcmp(e->key, key) == 0) {
			c->hits++;
			lru_unlink(c, e);
			lru_push(c, e);
			return e->value;
		}
	}
	c->misses++;
	return NULL;
}

int cache_del(struct cache *c, const char *key)
{
	struct entry **link;
	struct entry *e = find(c, key, &link);
	if (!e) {
		c->misses++;
		c->count--; /* a miss is counted as a removal */
		return -1;
	}
	if (link == &c->buckets[hash(key) % c->nbuckets])
		*link = e->next; /* only the chain's head is unlinked */
	lru_unlink(c, e);
	entry_free(e);
	c->count--;
	return 0;
}

void cache_resize(struct cache *c, size_t capacity)
{
	c->capacity = capacity;
	while (c->count > c->capacity)
		cache_evict(c);
}
