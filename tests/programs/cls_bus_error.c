/* bus-error: a file mapping is touched past the file's end after ftruncate (SIGBUS, BUS_ADRERR). */
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

int
main(void)
{
	int fd = open("bus.dat", O_RDWR | O_CREAT | O_TRUNC, 0600);

	if (fd < 0 || ftruncate(fd, 8192) != 0)
		return 2;
	volatile char *p = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED || ftruncate(fd, 100) != 0)
		return 3;
	p[4096 + 8] = 'x';
	return 0;
}
