/* kvd: a tiny key-value daemon driven by a command script on stdin.
 *
 *   kvd [--buckets N] [--capacity N] [--prefill N] [--log] < script
 *
 * Commands: SET key=K val=V, GET key=K, DEL key=K, RESIZE key=N, STATS.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cache.h"
#include "proto.h"
#include "stats.h"

struct options {
	size_t buckets, capacity, prefill;
	int log;
};

static struct options parse_options(int argc, char **argv)
{
	struct options o = {8, 16, 0, 0};
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--log") == 0)
			o.log = 1;
		else if (i + 1 < argc && strcmp(argv[i], "--buckets") == 0)
			o.buckets = strtoul(argv[++i], NULL, 10);
		else if (i + 1 < argc && strcmp(argv[i], "--capacity") == 0)
			o.capacity = strtoul(argv[++i], NULL, 10);
		else if (i + 1 < argc && strcmp(argv[i], "--prefill") == 0)
			o.prefill = strtoul(argv[++i], NULL, 10);
	}
	return o;
}

static void prefill(struct cache *c, size_t n)
{
	char key[32], value[32];
	for (size_t i = 0; i < n; i++) {
		snprintf(key, sizeof(key), "warm-%zu", i);
		snprintf(value, sizeof(value), "%zu", i * i);
		cache_put(c, key, value);
	}
}

static void execute(struct cache *c, const struct request *req, const struct options *o)
{
	if (strcmp(req->verb, "SET") == 0) {
		if (cache_put(c, req->keybuf, req->valbuf) != 0)
			fprintf(stderr, "SET %s: value too long\n", req->keybuf);
	} else if (strcmp(req->verb, "GET") == 0) {
		const char *v = cache_get(c, req->keybuf);
		printf("%s\n", v ? v : "(nil)");
	} else if (strcmp(req->verb, "DEL") == 0) {
		cache_del(c, req->keybuf);
	} else if (strcmp(req->verb, "RESIZE") == 0) {
		cache_resize(c, strtoul(req->keybuf, NULL, 10));
	} else if (strcmp(req->verb, "STATS") == 0) {
		if (o->log)
			stats_log(c, "stats");
		else
			stats_report(c);
	}
}

int main(int argc, char **argv)
{
	struct options o = parse_options(argc, argv);
	struct cache *c = cache_new(o.buckets, o.capacity);
	prefill(c, o.prefill);
	char line[256];
	while (fgets(line, sizeof(line), stdin)) {
		struct request req;
		memset(&req, 0, sizeof(req));
		if (proto_parse(line, &req) == 0)
			execute(c, &req, &o);
	}
	return 0;
}
