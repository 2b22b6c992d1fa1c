/*
 * killed: another process (a child) sends this one SIGSEGV (argv[1] == "abrt": SIGABRT) with
 * kill(). The parent prints the child's pid first, then lets the child go (a pipe), so the test
 * can check the sender pid.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

int
main(int argc, char **argv)
{
	int sig = argc > 1 && strcmp(argv[1], "abrt") == 0 ? SIGABRT : SIGSEGV;
	pid_t parent = getpid();
	int go[2];
	char byte;

	if (pipe(go) != 0)
		return 2;
	pid_t child = fork();
	if (child == 0) {
		if (read(go[0], &byte, 1) == 1)
			kill(parent, sig);
		_exit(0);
	}
	printf("%d\n", (int)child);
	fflush(stdout);
	if (write(go[1], "x", 1) != 1)
		return 3;
	for (;;)
		pause();
}
