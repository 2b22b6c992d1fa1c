"""Follow glibc's main heap chunk by chunk while it streams, to keep every chunk header.

The heap analysis (coresnap/analysis/heap.py, chunks.py) walks the main heap from its first
chunk to the top chunk, reading each chunk's ``size`` word and the first two words of a free
chunk's user memory (the tcache/fastbin ``next`` and ``key``). Chunks only point forward
(``chunk + size``), and a segment's data streams in address order, so the same walk can run on
the stream: each block tells where the next header is. The main heap is the anonymous segment
that starts with the main thread's ``tcache_perthread_struct`` chunk (``prev_size`` 0, ``size``
0x291: glibc 2.26+ on 64-bit), as the analysis finds it without libc's debug info. Stdlib only.
"""

from __future__ import annotations

import struct

PAGE = 4096
TCACHE_HEADER = (0, 0x291)  # malloc.c: sizeof (tcache_perthread_struct) + SIZE_SZ, PREV_INUSE
MIN_CHUNK, ALIGN = 0x20, 16  # malloc.c MINSIZE, MALLOC_ALIGNMENT
IS_MMAPPED = 0x2
# The analysis stops after chunks.MAX_CHUNKS chunks; one more header is read to stop.
MAX_CHUNKS = 100_000 + 1
KEPT_PER_CHUNK = 32  # prev_size, size, then the user words next and key


def starts_heap(first: bytes, order: str) -> bool:
    """True when a segment whose data begins with ``first`` is the main heap."""
    return len(first) >= 16 and struct.unpack_from(order + "QQ", first) == TCACHE_HEADER


class HeapWalk:
    """The walk through one segment ``[start, end)``; :meth:`feed` it the blocks in order."""

    def __init__(self, start: int, end: int, order: str) -> None:
        self.next = start
        self.end = end
        self.order = order
        self.chunks = 0
        self.stopped = ""  # why the walk ended ("" while it goes on)

    def feed(self, data: bytes | memoryview, base: int) -> set[int]:
        """Pages (addresses) to keep for the headers found in ``data`` (at address ``base``),
        including pages past ``data`` that the caller keeps when their data arrives."""
        pages: set[int] = set()
        limit = base + len(data)
        while not self.stopped and base <= self.next and self.next + 16 <= limit:
            at = self.next
            (size_field,) = struct.unpack_from(self.order + "Q", data, at - base + 8)
            pages.update(range(at - at % PAGE, at + KEPT_PER_CHUNK, PAGE))
            size = size_field & ~0x7
            self.chunks += 1
            if size < MIN_CHUNK or size % ALIGN or size_field & IS_MMAPPED or at + size > self.end:
                self.stopped = f"a bad size field {size_field:#x} at {at:#x}"
                pages.add(at - at % PAGE + PAGE)  # what the analysis may read to report it
            elif at + size >= self.end:
                self.stopped = "top chunk"
            elif self.chunks >= MAX_CHUNKS:
                self.stopped = f"{MAX_CHUNKS} chunks"
            self.next = at + size
        return pages
