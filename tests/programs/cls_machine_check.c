/*
 * machine-check: a real memory error (BUS_MCEERR_AR) cannot be produced on demand, so the
 * process queues itself the SIGBUS the kernel would send (rt_sigqueueinfo to itself may carry a
 * positive si_code). The kernel writes that siginfo into the core like a real one.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

int
main(void)
{
	siginfo_t si;

	memset(&si, 0, sizeof(si));
	si.si_signo = SIGBUS;
	si.si_code = BUS_MCEERR_AR;
	si.si_addr = (void *)0x7f00deadb000ULL;
	syscall(SYS_rt_sigqueueinfo, getpid(), SIGBUS, &si);
	for (;;)
		pause();
}
