/* A process with a dense heap of N MiB (argv[1], default 2048): every page written with
 * non-zero data, so the kernel dumps all of it. Then a NULL write (bench: snapshot vs core). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct chunk {
    struct chunk *next;
    size_t index;
    char payload[1 << 20];
};

__attribute__((noinline)) static void crash_after_fill(struct chunk *head, size_t count)
{
    int *nowhere = NULL;
    *nowhere = (int)(count + head->index);
}

int main(int argc, char **argv)
{
    size_t mib = argc > 1 ? strtoul(argv[1], NULL, 10) : 2048;
    struct chunk *head = NULL;
    for (size_t i = 0; i < mib; i++) {
        struct chunk *c = malloc(sizeof *c);
        if (c == NULL)
            abort();
        memset(c->payload, (int)(i % 251) + 1, sizeof c->payload);
        c->index = i;
        c->next = head;
        head = c;
    }
    crash_after_fill(head, mib);
    printf("%zu\n", head->index);
    return 0;
}
