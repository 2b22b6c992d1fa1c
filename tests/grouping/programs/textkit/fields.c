/* textkit: fixed-layout fields cut out of records. */
#include <string.h>

#include "textkit.h"

size_t copy_field(char *dst, const char *record, size_t offset, size_t len)
{
	memcpy(dst, record + offset, len);
	dst[len] = '\0';
	return len;
}
