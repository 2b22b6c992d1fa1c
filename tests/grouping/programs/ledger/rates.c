/* ledger: exchange rates, hashed by currency code. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ledger.h"

static size_t slot(const char *code)
{
	return ((unsigned char)code[0] * 31u + (unsigned char)code[1] * 7u + (unsigned char)code[2]) %
	       NRATES;
}

void rate_set(struct ledger *l, const char *code, long per100)
{
	struct rate *r = calloc(1, sizeof(*r));
	snprintf(r->code, sizeof(r->code), "%s", code);
	r->per100 = per100;
	l->rates[slot(code)] = r;
}

long currency_rate(const struct ledger *l, const char *code)
{
	const struct rate *r = l->rates[slot(code)];
	return r->per100;
}
