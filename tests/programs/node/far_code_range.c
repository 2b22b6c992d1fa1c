/* LD_PRELOAD for a node test: reserve the free address space within 2 GiB of the node binary
 * before V8 starts, so V8's code range lands far from its embedded builtins and V8 copies them
 * next to it (src/heap/code-range.cc RemapEmbeddedBuiltins), as it does when ASLR puts the range
 * far away by itself. The reservation is PROT_NONE and never touched. */
#define _GNU_SOURCE
#include <stdint.h>
#include <sys/mman.h>

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif

__attribute__((constructor)) static void reserve_low_space(void) {
  const uintptr_t step = 1UL << 24; /* 16 MiB pieces: mappings already there are skipped */
  for (uintptr_t at = 1UL << 28; at < (1UL << 32); at += step) {
    mmap((void *)at, step, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED_NOREPLACE, -1, 0);
  }
}
