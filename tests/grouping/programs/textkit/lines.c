/* textkit: reading and trimming lines. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "textkit.h"

size_t read_lines(char **lines, size_t max)
{
	char buf[1024];
	size_t n = 0;
	while (n < max && fgets(buf, sizeof(buf), stdin)) {
		buf[strcspn(buf, "\n")] = '\0';
		lines[n++] = strdup(buf);
	}
	return n;
}

/* Leading and trailing blanks removed, in place; NULL for a blank line. */
char *trim(char *s)
{
	while (isspace((unsigned char)*s))
		s++;
	if (!*s)
		return NULL;
	char *end = s + strlen(s);
	while (end > s && isspace((unsigned char)end[-1]))
		*--end = '\0';
	return s;
}
