/* textkit: small text tools over records read from stdin. */
#ifndef TEXTKIT_H
#define TEXTKIT_H

#include <stddef.h>

#define MAX_LINES 256

struct user {
	int id;
	char *name;
	char *nick; /* NULL when the record has no nick field */
};

struct player {
	char name[32];
	long score;
};

/* lines.c */
size_t read_lines(char **lines, size_t max);
char *trim(char *s);

/* users.c */
int parse_user(char *line, struct user *u);
size_t format_user(const struct user *u, char *out, size_t size);

/* words.c */
size_t count_words(char *const *lines, size_t n);
void words_release(char **lines, size_t n);

/* fields.c */
size_t copy_field(char *dst, const char *record, size_t offset, size_t len);

/* rank.c */
void rank_players(struct player **players, size_t n);
void print_leaderboard(struct player **players, size_t n);
void export_csv(struct player **players, size_t n);

#endif
