/*
 * use-after-free through a function pointer: a session with a callback is freed, and the stale
 * pointer's callback is called after malloc handed the chunk to a new owner (or while it is
 * still free). argv[1] picks how the chunk is reused:
 *   string    a tcache-sized chunk, a string copied in (the target is text: non-canonical)
 *   struct    a struct of another type whose pointer lands on the callback (a heap pointer)
 *   number    an array of longs (the target is a small integer)
 *   fastbin   the chunk went to a fastbin (tcache full) and comes back from it, with text
 *   unsorted  a chunk too big for the tcache, back from the unsorted bin with text
 *   freed     no new owner: the chunk is still in its tcache bin (the target is the tcache key)
 *   freed-unsorted  no new owner, the big chunk is in the unsorted bin (the target is its bk)
 *   argument  as string, through a call that loads its argument from the session too
 *   thread    as string, in a thread: the chunk is in the thread's arena
 *   thread-freed  as freed, in a thread (the chunk is in that thread's tcache)
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct session {
	long id;
	void (*on_close)(struct session *);
	char name[];
};

void *volatile fillers[7]; /* volatile: -O2 must not drop the mallocs that fill the tcache */

struct packet {
	uint32_t len;
	uint32_t kind;
	struct packet *next;
	uint64_t seq[2];
};

static void
closed(struct session *s)
{
	printf("closed %ld\n", s->id);
}

static struct session *
open_session(long id, size_t name_size)
{
	struct session *s = malloc(sizeof *s + name_size);

	s->id = id;
	s->on_close = closed;
	memset(s->name, 0, name_size);
	return s;
}

static void
close_session(struct session *s)
{
	s->on_close(s);
}

static void
close_with_id(struct session *s)
{
	/* -O0 reloads s to load the argument: the register the callback came through is reused */
	s->on_close((struct session *)s->id);
}

static char *
copy_text(size_t size)
{
	char *text = malloc(size);

	for (size_t i = 0; i + 1 < size; i++)
		text[i] = "the new owner wrote this text "[i % 30];
	text[size - 1] = '\0';
	return text;
}

static int argc_seen;

static void *
reuse(void *arg)
{
	const char *how = arg;
	int argc = argc_seen;
	int big = strstr(how, "unsorted") != NULL;
	size_t name_size = big ? 1200 : 16;
	struct session *s = open_session(7, name_size);
	void *guard = malloc(16); /* keeps a freed big chunk out of the top chunk */
	void *owner = NULL;

	if (strcmp(how, "fastbin") == 0) {
		for (int i = 0; i < 7; i++)
			fillers[i] = malloc(sizeof *s + name_size);
		for (int i = 0; i < 7; i++)
			free(fillers[i]); /* the tcache bin is full: s goes to a fastbin */
	}
	free(s);
	if (strcmp(how, "fastbin") == 0) {
		for (int i = 0; i < 7; i++)
			fillers[i] = malloc(sizeof *s + name_size); /* drain the tcache bin */
	}
	if (strcmp(how, "string") == 0 || strcmp(how, "fastbin") == 0 || strcmp(how, "unsorted") == 0 ||
	    strcmp(how, "argument") == 0) {
		owner = copy_text(sizeof *s + name_size);
	} else if (strcmp(how, "struct") == 0) {
		struct packet *p = malloc(sizeof *p);
		p->len = 4;
		p->kind = 2;
		p->next = p;
		owner = p;
	} else if (strcmp(how, "number") == 0) {
		long *v = malloc(4 * sizeof *v);
		for (int i = 0; i < 4; i++)
			v[i] = (long)argc * 21 + i;
		owner = v;
	}
	if (strcmp(how, "argument") == 0)
		close_with_id(s);
	close_session(s);
	printf("%p %p\n", owner, guard);
	return NULL;
}

int
main(int argc, char **argv)
{
	const char *how = argc > 1 ? argv[1] : "string";
	pthread_t worker;

	argc_seen = argc;
	if (strncmp(how, "thread", 6) == 0) {
		how = strcmp(how, "thread") == 0 ? "string" : "freed";
		pthread_create(&worker, NULL, reuse, (void *)how);
		pthread_join(worker, NULL);
		return 0;
	}
	reuse((void *)how);
	return 0;
}
