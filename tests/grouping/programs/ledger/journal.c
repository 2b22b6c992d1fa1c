/* ledger: postings, the audit, and closing the books. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ledger.h"

void post_entry(struct ledger *l, const char *name, long amount, const char *currency,
		const char *memo)
{
	struct account *a = account_find(l, name);
	long base = amount * currency_rate(l, currency) / 100;
	a->balance += amount;
	a->postings++;
	a->volume += amount < 0 ? -amount : amount;
	if (base < 0)
		l->credits -= base;
	else
		l->debits += base;
	if (l->nentries == l->capacity) {
		l->capacity = l->capacity ? 2 * l->capacity : 8;
		l->journal = realloc(l->journal, l->capacity * sizeof(*l->journal));
	}
	struct entry *e = &l->journal[l->nentries++];
	snprintf(e->memo, sizeof(e->memo), "%s", memo);
	e->amount = amount;
	e->account = a;
	e->flags = 0;
}

void audit_check(const struct ledger *l)
{
	if (l->debits != l->credits) {
		fprintf(stderr, "audit: debits %ld != credits %ld\n", l->debits, l->credits);
		abort();
	}
	fprintf(stderr, "audit: balanced at %ld\n", l->debits);
}

/* The closed journal is copied out exactly sized, ended by an end-of-journal entry, and a
 * summary is attached to it. */
void ledger_close(struct ledger *l)
{
	struct entry *closed = malloc(l->nentries * sizeof(*closed));
	memcpy(closed, l->journal, l->nentries * sizeof(*closed));
	closed[l->nentries] = (struct entry){"--- end of journal ---", 0, NULL, -1};
	struct summary *s = malloc(sizeof(*s));
	s->entries = l->nentries;
	s->debits = l->debits;
	s->credits = l->credits;
	free(l->journal);
	l->journal = closed;
	l->capacity = l->nentries;
	l->summary = s;
}
