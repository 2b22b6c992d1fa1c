/* assert: a failed assertion (glibc keeps the message in __abort_msg). */
#include <assert.h>

static int
check_count(int count)
{
	assert(count > 1 && "need two arguments");
	return count;
}

int
main(int argc, char **argv)
{
	(void)argv;
	return check_count(argc);
}
