/* webd: one HTTP/1.x request read from stdin, parsed, validated and routed. */
#ifndef WEBD_H
#define WEBD_H

#include <stddef.h>

#define MAX_HEADERS 32
#define MAX_BODY (1 << 20)

struct span {
	const char *text;
	size_t len;
};

struct header {
	char name[64];
	struct span *value; /* NULL when the line had no colon */
};

struct request {
	char method[16];
	int method_id;
	char path[256];
	char version[16];
	struct header headers[MAX_HEADERS];
	size_t nheaders;
	unsigned long long content_length;
	char user[32];
};

typedef int (*handler_fn)(struct request *);

/* util.c */
void die(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
void *xmalloc(size_t n);
char *read_line(char *buf, size_t size);

/* request.c */
void parse_request_line(struct request *r, const char *line);
void parse_header_line(struct request *r, const char *line);
const char *header_value(const struct request *r, const char *name);
const char *request_host(const struct request *r);
const char *request_content_type(const struct request *r);
void request_validate(const struct request *r);

/* cookie.c */
int parse_cookie(const char *header, struct request *r);

/* router.c */
int method_index(const char *method);
int route_dispatch(struct request *r);

#endif
