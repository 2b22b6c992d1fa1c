/* kvd: parsing one request line into a struct request. */
#include "proto.h"

#include <stdio.h>
#include <string.h>

#define MAX_TOKENS 8

static struct token tokens[MAX_TOKENS];

static const struct token *field(const char *name, size_t n)
{
	size_t len = strlen(name);
	for (size_t i = 0; i < n; i++)
		if (tokens[i].len > len && strncmp(tokens[i].text, name, len) == 0 &&
		    tokens[i].text[len] == '=')
			return &tokens[i];
	return NULL;
}

static size_t tokenize(const char *line)
{
	size_t n = 0;
	while (*line && n < MAX_TOKENS) {
		while (*line == ' ')
			line++;
		if (!*line || *line == '\n')
			break;
		tokens[n].text = line;
		while (*line && *line != ' ' && *line != '\n')
			line++;
		tokens[n].len = (size_t)(line - tokens[n].text);
		n++;
	}
	return n;
}

int proto_needs_key(const char *verb)
{
	return strcmp(verb, "STATS") != 0;
}

int proto_needs_value(const char *verb)
{
	return strcmp(verb, "SET") == 0;
}

int proto_parse(const char *line, struct request *req)
{
	size_t n = tokenize(line);
	if (n == 0)
		return -1;
	snprintf(req->verb, sizeof(req->verb), "%.*s", (int)tokens[0].len, tokens[0].text);
	req->key = field("key", n);
	req->val = field("val", n);
	if (proto_needs_key(req->verb))
		req->klen = req->key->len - 4;
	if (proto_needs_value(req->verb))
		req->vlen = req->val->len - 4;
	if (req->key)
		snprintf(req->keybuf, sizeof(req->keybuf), "%.*s", (int)req->klen, req->key->text + 4);
	if (req->val)
		snprintf(req->valbuf, sizeof(req->valbuf), "%.*s", (int)req->vlen, req->val->text + 4);
	return 0;
}
