/* null-deref: a list node whose `next` is NULL is followed; argv[1] == "write" stores. */
#include <stdlib.h>
#include <string.h>

struct node {
	int value;
	struct node *next;
};

static int
read_next(struct node *n)
{
	return n->next->value + 1;
}

static void
write_next(struct node *n, int v)
{
	n->next->value = v;
}

int
main(int argc, char **argv)
{
	struct node *n = calloc(1, sizeof(*n));

	if (argc > 1 && strcmp(argv[1], "write") == 0) {
		write_next(n, 7);
		return 0;
	}
	return read_next(n);
}
