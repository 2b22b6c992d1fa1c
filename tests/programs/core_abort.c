/* abort(): glibc raises SIGABRT at itself with tgkill, so si_code is SI_TKILL. */
#include <stdlib.h>

int
main(void)
{
	abort();
}
