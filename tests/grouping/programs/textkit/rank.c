/* textkit: a leaderboard, as text or CSV. */
#include <stdio.h>
#include <stdlib.h>

#include "textkit.h"

static int cmp_by_score(const void *a, const void *b)
{
	const struct player *pa = *(struct player *const *)a;
	const struct player *pb = *(struct player *const *)b;
	return (pb->score > pa->score) - (pb->score < pa->score);
}

void rank_players(struct player **players, size_t n)
{
	qsort(players, n, sizeof(*players), cmp_by_score);
}

void print_leaderboard(struct player **players, size_t n)
{
	rank_players(players, n);
	for (size_t i = 0; i < n && players[i]; i++)
		printf("%2zu. %-20s %ld\n", i + 1, players[i]->name, players[i]->score);
}

void export_csv(struct player **players, size_t n)
{
	rank_players(players, n);
	printf("rank,name,score\n");
	for (size_t i = 0; i < n && players[i]; i++)
		printf("%zu,%s,%ld\n", i + 1, players[i]->name, players[i]->score);
}
