/* webd: methods and their handlers. */
#include <stdio.h>
#include <string.h>

#include "webd.h"

static const char *const methods[] = {"GET",	 "HEAD",    "POST",  "PUT",
				      "DELETE", "OPTIONS", "PATCH", "TRACE"};

static int on_get(struct request *r)
{
	printf("200 GET %s\n", r->path);
	return 200;
}

static int on_head(struct request *r)
{
	printf("200 HEAD %s\n", r->path);
	return 200;
}

static int on_post(struct request *r)
{
	printf("201 POST %s (%llu bytes)\n", r->path, r->content_length);
	return 201;
}

static int on_put(struct request *r)
{
	printf("204 PUT %s\n", r->path);
	return 204;
}

/* The handlers and, after them, the per-method body limits (only the first four methods are
 * served; the table was not grown when DELETE..TRACE were added to `methods`). */
static struct {
	handler_fn handlers[4];
	unsigned long limits[4];
} routes = {
	{on_get, on_head, on_post, on_put},
	{0x4000000UL, 0x100000000UL, 0x7f0000000UL, 0x2000000UL},
};

int method_index(const char *method)
{
	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
		if (strcmp(methods[i], method) == 0)
			return (int)i;
	return -1;
}

static unsigned long served[8];

int route_dispatch(struct request *r)
{
	if (r->method_id < 0)
		return 405;
	int status = routes.handlers[r->method_id](r);
	served[r->method_id]++;
	return status;
}
