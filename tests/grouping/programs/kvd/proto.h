/* kvd: the line protocol: VERB key=K val=V */
#ifndef KVD_PROTO_H
#define KVD_PROTO_H

#include <stddef.h>

struct token {
	const char *text;
	size_t len;
};

struct request {
	char verb[16];
	const struct token *key;
	const struct token *val;
	size_t klen, vlen;
	char keybuf[64], valbuf[128];
};

int proto_parse(const char *line, struct request *req);
int proto_needs_key(const char *verb);
int proto_needs_value(const char *verb);

#endif
