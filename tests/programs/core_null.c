/* Single-threaded null store. The globals are what the memory tests read back from the core:
 * a read-only string (only in the executable's pages: read from the file or the core), and a
 * writable buffer changed at run time (only the core has the new contents). */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

const char core_marker[] = "coresnap core marker: read me from the core";
char core_scratch[64] = "initial contents";

int
main(int argc, char **argv)
{
	volatile int *p = (volatile int *)0;

	(void)argc;
	(void)argv;
	strcpy(core_scratch, "changed at run time");
	printf("pid %d marker %p scratch %p\n", (int)getpid(), (void *)core_marker,
	    (void *)core_scratch);
	fflush(stdout);
	*p = 42;
	return 0;
}
