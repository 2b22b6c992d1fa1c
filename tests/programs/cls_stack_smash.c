/* stack-smash: strcpy overruns a local array; -fstack-protector-strong catches it on return. */
#include <string.h>

static void
copy_name(const char *s)
{
	char buf[8];

	strcpy(buf, s);
}

int
main(int argc, char **argv)
{
	copy_name(argc > 1 ? argv[1] : "short");
	return 0;
}
