/*
 * Fingerprint groups: one bug (a record without a field) reached through different outer
 * callers (argv[1] "a" or "b") and inputs (argv[2]); a second crash site of the same class
 * (argv[1] "other") must not share the fingerprint.
 */
#include <stdio.h>
#include <stdlib.h>

struct field {
	int width;
	int height;
};

struct record {
	const char *name;
	struct field *field;
};

static int
field_width(const struct record *r, int scale)
{
	/* A store: unlike a load, it cannot be fused into the caller's arithmetic at -O2. */
	r->field->width = scale;
	return scale * 2;
}

static int
lookup(const struct record *r, int scale)
{
	int w = field_width(r, scale);

	return w * scale + 1;
}

static int
parse_record(const struct record *r, int scale)
{
	int v = lookup(r, scale);

	return v + 5;
}

static int
header_width(const struct record *r, int scale)
{
	r->field->height = scale;
	return scale + 1;
}

static int
batch(struct record *r, int n)
{
	int total = 0;

	for (int i = 0; i < n; i++)
		total += parse_record(r, i + 1);
	return total;
}

int
main(int argc, char **argv)
{
	static struct field spare = {3, 4};
	/* Not a compile-time NULL: -O2 would fold every path into one shared faulting load. */
	struct record r = {"rec", argc > 99 ? &spare : NULL};
	int scale = argc > 2 ? atoi(argv[2]) : 1;
	int v;

	if (argc > 1 && argv[1][0] == 'a')
		v = batch(&r, scale);
	else if (argc > 1 && argv[1][0] == 'o')
		v = header_width(&r, scale);
	else
		v = parse_record(&r, scale);
	printf("%d\n", v);
	return 0;
}
