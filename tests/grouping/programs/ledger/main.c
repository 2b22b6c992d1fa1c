/* ledger: read a journal from stdin, then report, audit or close it.
 *
 *   ledger report|audit|close [--copies N] < journal
 *
 *   open NAME CUR | rate CUR PER100 | post NAME AMOUNT CUR [MEMO]
 *   (--copies N posts every post line N times)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ledger.h"

static void report(const struct ledger *l)
{
	for (const struct account *a = l->accounts; a; a = a->next)
		printf("%-12s %10ld %s avg %ld\n", a->name, a->balance, a->currency,
		       ledger_average(a));
}

static void read_journal(struct ledger *l, int copies)
{
	char line[160], verb[8], a[24], b[24], c[8], memo[40];
	while (fgets(line, sizeof(line), stdin)) {
		memo[0] = '\0';
		int n = sscanf(line, "%7s %23s %23s %7s %39[^\n]", verb, a, b, c, memo);
		if (n >= 3 && strcmp(verb, "open") == 0)
			account_open(l, a, b);
		else if (n >= 3 && strcmp(verb, "rate") == 0)
			rate_set(l, a, strtol(b, NULL, 10));
		else if (n >= 4 && strcmp(verb, "post") == 0)
			for (int i = 0; i < copies; i++)
				post_entry(l, a, strtol(b, NULL, 10), c, memo);
	}
}

int main(int argc, char **argv)
{
	static struct ledger l;
	int copies = 1;
	for (int i = 2; i + 1 < argc; i++)
		if (strcmp(argv[i], "--copies") == 0)
			copies = atoi(argv[++i]);
	read_journal(&l, copies);
	if (argc > 1 && strcmp(argv[1], "report") == 0)
		report(&l);
	else if (argc > 1 && strcmp(argv[1], "audit") == 0)
		audit_check(&l);
	else if (argc > 1 && strcmp(argv[1], "close") == 0) {
		ledger_close(&l);
		for (size_t i = 0; i < l.nentries; i++)
			printf("%-24s %8ld\n", l.journal[i].account->name, l.journal[i].amount);
		printf("%zu entries\n", l.summary->entries);
	}
	return 0;
}
