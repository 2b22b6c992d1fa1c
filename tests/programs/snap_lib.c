/* A shared library built without -g (snapshot tests: a module without debug info). */
#include <string.h>

int snaplib_checksum(const char *data, int *out)
{
    int sum = 0;
    for (size_t i = 0; i < strlen(data); i++)
        sum += data[i];
    *out = sum; /* out is NULL: SIGSEGV inside the library */
    return sum;
}
