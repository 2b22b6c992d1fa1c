/* webd: the helpers every module uses. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "webd.h"

void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("webd: fatal: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	abort();
}

void *xmalloc(size_t n)
{
	void *p = malloc(n);
	if (!p)
		die("out of memory (%zu bytes)", n);
	return p;
}

char *read_line(char *buf, size_t size)
{
	if (!fgets(buf, (int)size, stdin))
		return NULL;
	size_t len = strlen(buf);
	if (len == size - 1 && buf[len - 1] != '\n')
		die("header line longer than %zu bytes", size - 2);
	while (len && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
		buf[--len] = '\0';
	return buf;
}
