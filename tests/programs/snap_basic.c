/* Single-threaded crash with a variety of local variable types (snapshot tests).
 * The NULL write happens three calls deep; at -O2 the helpers inline (gdb shows inline frames). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum color { RED, GREEN = 5, BLUE };

struct point {
    int x;
    int y;
    const char *label;
};

struct record {
    long id;
    double weight;
    struct point where;
    int values[4];
    char tag[16];
};

static int global_counter = 7;

__attribute__((noinline)) static void crash_here(struct record *rec, int *target, int depth)
{
    int local_int = 42 + depth;
    const char *message = "about to crash";
    char buffer[24] = "stack buffer";
    enum color shade = GREEN;
    float ratio = 0.5f;
    global_counter += local_int;
    if (rec->id == 1234)
        *target = local_int + (int)strlen(message) + (int)strlen(buffer) + shade + (int)ratio;
    printf("%d %s %s\n", local_int, message, buffer);
}

static inline __attribute__((always_inline)) void inlined_step(struct record *rec, int *target)
{
    int step_value = rec->values[2];
    crash_here(rec, target, step_value);
}

__attribute__((noinline)) static void middle(struct record *rec, int *target)
{
    inlined_step(rec, target);
    printf("middle %ld\n", rec->id);
}

int main(int argc, char **argv)
{
    struct record rec = {1234, 72.5, {3, 4, "origin"}, {1, 2, 3, 4}, "tagged"};
    int *target = NULL;
    if (argc > 5)
        target = &rec.values[0];
    middle(&rec, target);
    printf("%s\n", argv[0]);
    return 0;
}
