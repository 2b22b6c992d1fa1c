/* ledger: accounts, kept in a list in opening order. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ledger.h"

struct account *account_open(struct ledger *l, const char *name, const char *currency)
{
	struct account *a = calloc(1, sizeof(*a));
	snprintf(a->name, sizeof(a->name), "%s", name);
	snprintf(a->currency, sizeof(a->currency), "%s", currency);
	a->next = l->accounts;
	l->accounts = a;
	return a;
}

struct account *account_find(const struct ledger *l, const char *name)
{
	struct account *a = l->accounts;
	while (strcmp(a->name, name) != 0)
		a = a->next;
	return a;
}

long ledger_average(const struct account *a)
{
	return a->volume / a->postings;
}
