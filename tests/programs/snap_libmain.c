/* Calls into libsnaplib (no debug info), which crashes (snapshot tests). */
#include <stdio.h>

int snaplib_checksum(const char *data, int *out);

__attribute__((noinline)) static int compute(const char *text)
{
    int *result = NULL;
    int sum = snaplib_checksum(text, result);
    printf("%d\n", sum);
    return sum;
}

int main(void)
{
    return compute("library input") == 0;
}
