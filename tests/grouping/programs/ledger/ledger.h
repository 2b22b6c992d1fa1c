/* ledger: double-entry bookkeeping over a journal read from stdin. */
#ifndef LEDGER_H
#define LEDGER_H

#include <stddef.h>

#define NRATES 16

struct account {
	char name[24];
	char currency[4];
	long balance; /* cents, in the account's currency */
	long postings;
	long volume;
	struct account *next;
};

struct rate {
	char code[4];
	long per100; /* value of 100 units in the base currency */
};

struct entry {
	char memo[40];
	long amount;
	struct account *account;
	long flags;
};

struct summary {
	size_t entries;
	long debits, credits;
	char note[72];
};

struct ledger {
	struct account *accounts;
	struct rate *rates[NRATES];
	struct entry *journal;
	size_t nentries, capacity;
	long debits, credits; /* base currency */
	struct summary *summary;
};

/* accounts.c */
struct account *account_open(struct ledger *l, const char *name, const char *currency);
struct account *account_find(const struct ledger *l, const char *name);
long ledger_average(const struct account *a);

/* rates.c */
void rate_set(struct ledger *l, const char *code, long per100);
long currency_rate(const struct ledger *l, const char *code);

/* journal.c */
void post_entry(struct ledger *l, const char *name, long amount, const char *currency,
		const char *memo);
void audit_check(const struct ledger *l);
void ledger_close(struct ledger *l);

#endif
