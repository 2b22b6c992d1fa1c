/* Locals whose text the terminal view must show as it is (tests/snapshot/test_view_strings.py):
 * C strings behind struct members (one named like a secret), text needing escapes, accents
 * (UTF-8) and a byte that is not UTF-8. */
#include <stdio.h>
#include <string.h>

struct user {
    int id;
    const char *name;
    char note[24];
    struct {
        const char *path;
        int mode;
    } file;
    const char *password;
    const char *missing;
};

__attribute__((noinline)) static void crash_here(struct user *u, const char *quoted)
{
    volatile int *target = 0;
    char tabbed[16] = "a\tb\"c\\d";
    char accents[16] = "caf\xc3\xa9 na\xefve";
    printf("%s %s %s %s\n", u->name, quoted, tabbed, accents);
    *target = u->id;
}

int main(int argc, char **argv)
{
    struct user u = {7, "alice \"the admin\"", "line1\nline2", {"C:\\tmp\\x", 0644}, argv[0], NULL};
    crash_here(&u, argc > 5 ? argv[1] : "say \"hi\"\n");
    return 0;
}
