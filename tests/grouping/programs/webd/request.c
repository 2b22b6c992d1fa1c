/* webd: the request line, the headers, and the checks made before routing. */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "webd.h"

void parse_request_line(struct request *r, const char *line)
{
	if (sscanf(line, "%15s %255s %15s", r->method, r->path, r->version) != 3)
		die("malformed request line");
	if (strcmp(r->version, "HTTP/1.0") != 0 && strcmp(r->version, "HTTP/1.1") != 0)
		die("unsupported protocol version %s", r->version);
	r->method_id = method_index(r->method);
}

void parse_header_line(struct request *r, const char *line)
{
	if (r->nheaders == MAX_HEADERS)
		return;
	struct header *h = &r->headers[r->nheaders++];
	char *copy = xmalloc(strlen(line) + 1);
	strcpy(copy, line);
	const char *colon = strchr(copy, ':');
	size_t n = colon ? (size_t)(colon - copy) : strlen(copy);
	snprintf(h->name, sizeof(h->name), "%.*s", (int)n, copy);
	h->value = NULL;
	if (colon) {
		h->value = xmalloc(sizeof(*h->value));
		h->value->text = colon + 1 + strspn(colon + 1, " ");
		h->value->len = strlen(h->value->text);
	}
	if (strcasecmp(h->name, "Content-Length") == 0 && h->value)
		r->content_length = strtoull(h->value->text, NULL, 10);
}

const char *header_value(const struct request *r, const char *name)
{
	for (size_t i = 0; i < r->nheaders; i++) {
		const struct header *h = &r->headers[i];
		if (strcasecmp(h->name, name) == 0)
			return h->value->text;
	}
	return NULL;
}

const char *request_host(const struct request *r)
{
	const char *host = header_value(r, "Host");
	return host ? host : "localhost";
}

const char *request_content_type(const struct request *r)
{
	const char *type = header_value(r, "Content-Type");
	return type ? type : "application/octet-stream";
}

void request_validate(const struct request *r)
{
	assert(r->path[0] == '/');
	assert(r->content_length <= MAX_BODY);
	if (r->method_id < 0)
		fprintf(stderr, "webd: unknown method %s\n", r->method);
}
