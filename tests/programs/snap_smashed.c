// A crash in a function whose return address was just overwritten (no stack protector):
// unwinding past it reads garbage, which the snapshot must mark and quality must count.
#include <stdint.h>
#include <stdio.h>

static volatile int *volatile target;

static void __attribute__((noinline)) smash_and_crash(int value)
{
    // x86-64 with a frame pointer: [rbp] is the saved rbp, [rbp + 8] the return address.
    void **frame = __builtin_frame_address(0);
    frame[1] = (void *)(uintptr_t)0x4141414141414141ULL;
    *target = value;  // SIGSEGV before the smashed return is taken
}

int main(int argc, char **argv)
{
    (void)argv;
    smash_and_crash(argc);
    printf("not reached\n");
    return 0;
}
