/* webd: the session cookie (`Cookie: user=<name>; ...`). */
#include <stdio.h>
#include <string.h>

#include "webd.h"

int parse_cookie(const char *header, struct request *r)
{
	char name[24];
	size_t n = 0;
	const char *p = strstr(header, "user=");
	if (!p)
		return -1;
	for (p += 5; *p && *p != ';'; p++)
		name[n++] = *p;
	name[n] = '\0';
	snprintf(r->user, sizeof(r->user), "%s", name);
	return (int)n;
}
