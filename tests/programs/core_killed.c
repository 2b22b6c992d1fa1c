/* Killed by another process: a child sends SIGSEGV with kill(2), so the core's siginfo is
 * SI_USER with the child's pid and uid, not a fault address. Prints "sender <pid>". */
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

int
main(void)
{
	pid_t parent = getpid();
	pid_t child = fork();

	if (child == 0) {
		usleep(100 * 1000);
		kill(parent, SIGSEGV);
		_exit(0);
	}
	printf("sender %d\n", (int)child);
	fflush(stdout);
	for (;;)
		pause();
}
