/* textkit: text tools over stdin.
 *
 *   textkit users          id:name[:nick] records, formatted
 *   textkit words          word count of the trimmed lines
 *   textkit fields W       each line "OFFSET LEN" cuts a field of a W-byte record
 *   textkit rank | csv     "name score" lines, "-name" removes a player; the board
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "textkit.h"

static char *lines[MAX_LINES];

static int users(size_t n)
{
	char out[256];
	for (size_t i = 0; i < n; i++) {
		struct user u;
		if (parse_user(lines[i], &u) == 0 && format_user(&u, out, sizeof(out)))
			puts(out);
	}
	return 0;
}

static int words(size_t n)
{
	for (size_t i = 0; i < n; i++)
		lines[i] = trim(lines[i]);
	printf("%zu words\n", count_words(lines, n));
	words_release(lines, n);
	return 0;
}

static int fields(size_t n, size_t width)
{
	char *record = calloc(1, width);
	char field[64];
	for (size_t i = 0; i < n; i++) {
		size_t offset = 0, len = 0;
		if (sscanf(lines[i], "%zu %zu", &offset, &len) == 2 && len < sizeof(field))
			printf("[%s]\n", copy_field(field, record, offset, len) ? field : "");
	}
	free(record);
	return 0;
}

static int board(size_t n, int csv)
{
	struct player **players = calloc(n + 1, sizeof(*players));
	size_t count = 0;
	for (size_t i = 0; i < n; i++) {
		if (lines[i][0] == '-') {
			for (size_t k = 0; k < count; k++)
				if (players[k] && strcmp(players[k]->name, lines[i] + 1) == 0) {
					free(players[k]);
					players[k] = NULL;
				}
			continue;
		}
		struct player *p = calloc(1, sizeof(*p));
		if (sscanf(lines[i], "%31s %ld", p->name, &p->score) == 2)
			players[count++] = p;
	}
	if (csv)
		export_csv(players, count);
	else
		print_leaderboard(players, count);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return 2;
	size_t n = read_lines(lines, MAX_LINES);
	if (strcmp(argv[1], "users") == 0)
		return users(n);
	if (strcmp(argv[1], "words") == 0)
		return words(n);
	if (strcmp(argv[1], "fields") == 0 && argc > 2)
		return fields(n, strtoul(argv[2], NULL, 10));
	if (strcmp(argv[1], "rank") == 0 || strcmp(argv[1], "csv") == 0)
		return board(n, strcmp(argv[1], "csv") == 0);
	return 2;
}
