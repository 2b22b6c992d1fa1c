/* textkit: user records "id:name[:nick]". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "textkit.h"

int parse_user(char *line, struct user *u)
{
	char *id = strtok(line, ":");
	char *name = strtok(NULL, ":");
	if (!id || !name)
		return -1;
	u->id = atoi(id);
	u->name = name;
	u->nick = strtok(NULL, ":");
	return 0;
}

size_t format_user(const struct user *u, char *out, size_t size)
{
	size_t need = strlen(u->name) + strlen(u->nick) + 16;
	if (need > size)
		return 0;
	return (size_t)snprintf(out, size, "#%d %s (%s)", u->id, u->name, u->nick);
}
