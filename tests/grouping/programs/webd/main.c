/* webd: read one request from stdin and answer it on stdout.
 *
 *   webd [--no-cookies] [--log-host] [--log-type] < request
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "webd.h"

struct options {
	int cookies, log_host, log_type;
};

static struct options parse_options(int argc, char **argv)
{
	struct options o = {1, 0, 0};
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--no-cookies") == 0)
			o.cookies = 0;
		else if (strcmp(argv[i], "--log-host") == 0)
			o.log_host = 1;
		else if (strcmp(argv[i], "--log-type") == 0)
			o.log_type = 1;
	}
	return o;
}

static void read_headers(struct request *r)
{
	char line[512];
	while (read_line(line, sizeof(line)) && line[0])
		parse_header_line(r, line);
}

static void session(struct request *r, const struct options *o)
{
	for (size_t i = 0; o->cookies && i < r->nheaders; i++)
		if (strcasecmp(r->headers[i].name, "Cookie") == 0 && r->headers[i].value)
			parse_cookie(r->headers[i].value->text, r);
}

static int serve(struct request *r, const struct options *o)
{
	if (o->log_host)
		fprintf(stderr, "host %s\n", request_host(r));
	if (o->log_type)
		fprintf(stderr, "type %s\n", request_content_type(r));
	request_validate(r);
	session(r, o);
	return route_dispatch(r);
}

int main(int argc, char **argv)
{
	static struct request req;
	struct options o = parse_options(argc, argv);
	char line[512];
	if (!read_line(line, sizeof(line)))
		return 1;
	parse_request_line(&req, line);
	read_headers(&req);
	int status = serve(&req, &o);
	fprintf(stderr, "status %d user %s\n", status, req.user);
	return 0;
}
