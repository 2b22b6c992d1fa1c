"""glibc's heaps walked chunk by chunk: the main heap and the heaps of every thread arena.

A chunk is ``prev_size, size`` then user memory (malloc/malloc.c); ``size``'s low bits are
PREV_INUSE (1), IS_MMAPPED (2) and NON_MAIN_ARENA (4), and the next chunk starts ``size & ~7``
bytes later, so a walk from a heap's first chunk reaches every chunk, up to the top chunk that
ends the heap, unless a size field cannot be (a corrupt header stops it there).

A thread's arena lives in heaps of its own (arena.c ``new_heap``): each is mmapped at a multiple
of HEAP_MAX_SIZE and starts with a ``heap_info`` {ar_ptr, prev, size, mprotect_size[,
pagesize]}; the arena's first heap holds its ``malloc_state`` right after it (``ar_ptr`` points
there) and the chunks follow it, aligned; a later heap's chunks follow its ``heap_info``. Every
chunk of a thread arena has NON_MAIN_ARENA set.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass

from coresnap.analysis.context import Context

MAX_CHUNKS = 100_000  # bound the heap walk: cores are attacker-controlled
SIZE_BITS = 0x7  # PREV_INUSE | IS_MMAPPED | NON_MAIN_ARENA
NON_MAIN_ARENA = 0x4
REACHED_TOP = "reached the top chunk: every chunk header on the way is valid"
HEAP_MAX_SIZE = 64 << 20  # 2 * DEFAULT_MMAP_THRESHOLD_MAX on 64-bit (malloc/arena.c)
HEAP_INFO_SIZES = (48, 32)  # sizeof(heap_info) since glibc 2.35 (pagesize added), and before
MALLOC_STATE_SIZE = 0x898  # sizeof(struct malloc_state) on x86-64, glibc 2.26 and later
MALLOC_ALIGNMENT = 16


@dataclass(frozen=True)
class Region:
    """One heap: its first chunk, its end, and a name a developer recognises."""

    start: int
    end: int
    name: str
    thread_arena: bool = False  # every chunk must then have NON_MAIN_ARENA set

    def contains(self, address: int) -> bool:
        return self.start <= address < self.end


@dataclass(frozen=True)
class Chunk:
    """One chunk found by the header walk: where its header is and its raw ``size`` field."""

    address: int  # the header (``prev_size``); user memory starts 0x10 later
    size_field: int

    @property
    def size(self) -> int:
        return self.size_field & ~SIZE_BITS

    @property
    def user(self) -> int:
        return self.address + 0x10

    def contains(self, address: int) -> bool:
        return self.address <= address < self.address + self.size


@dataclass
class Walk:
    """The chunks from the heap start to the top chunk, or to the header that stopped the walk."""

    chunks: list[Chunk]
    stop: str  # REACHED_TOP, or why the walk could not go on
    bad: Chunk | None = None  # the chunk whose size field cannot be (a corrupt header)

    def find(self, address: int) -> Chunk | None:
        """The walked chunk whose memory (header included) holds ``address``."""
        i = bisect.bisect_right([c.address for c in self.chunks], address) - 1
        return self.chunks[i] if i >= 0 and self.chunks[i].contains(address) else None


def invalid_size(size_field: int, address: int, region: Region) -> str | None:
    """Why a chunk's size field cannot be right (malloc.c: MINSIZE, MALLOC_ALIGNMENT, the chunk
    must end inside its heap, a heap chunk is never IS_MMAPPED, a thread arena's chunks but the
    top one have NON_MAIN_ARENA and the main heap's none), or None."""
    size = size_field & ~SIZE_BITS
    if size < 0x20:
        return f"{size_field:#x} is below the minimum chunk size 0x20"
    if size % MALLOC_ALIGNMENT:
        return f"{size_field:#x} is not a multiple of 16"
    if size_field & 0x2:
        return f"{size_field:#x} has IS_MMAPPED set inside the {region.name}"
    if address + size > region.end:
        return f"{size_field:#x} runs past the heap end {region.end:#x}"
    top = address + size == region.end  # the top chunk never has NON_MAIN_ARENA (set_head)
    if size_field & NON_MAIN_ARENA and not region.thread_arena:
        return f"{size_field:#x} has NON_MAIN_ARENA set in the {region.name}"
    if region.thread_arena and not size_field & NON_MAIN_ARENA and not top:
        return f"{size_field:#x} has NON_MAIN_ARENA clear in the {region.name}"
    return None


def walk_chunks(ctx: Context, region: Region) -> Walk:
    """Walk chunk by chunk from the heap start (bounded), stopping at a size that cannot be."""
    chunks: list[Chunk] = []
    chunk = region.start
    for _ in range(MAX_CHUNKS):
        size_field = ctx.word(chunk + 8)
        if size_field is None:
            return Walk(chunks, f"the header at {chunk:#x} is unreadable")
        why = invalid_size(size_field, chunk, region)
        if why is not None:
            return Walk(
                chunks,
                f"the size field of the chunk at {chunk:#x}: {why}",
                Chunk(chunk, size_field),
            )
        chunks.append(Chunk(chunk, size_field))
        chunk += size_field & ~SIZE_BITS
        if chunk >= region.end:
            return Walk(chunks, REACHED_TOP)
    return Walk(chunks, f"stopped after {MAX_CHUNKS} chunks")


def _first_chunk(ctx: Context, heap: int, ar_ptr: int) -> int | None:
    """Where the chunks of the thread heap at ``heap`` start, or None if it is not one."""
    if ar_ptr in (heap + size for size in HEAP_INFO_SIZES):  # the arena's first heap
        first = ar_ptr + MALLOC_STATE_SIZE
    else:  # a later heap of the arena: the chunks follow its heap_info
        info = ar_ptr - (ar_ptr & ~(HEAP_MAX_SIZE - 1)) - MALLOC_STATE_SIZE
        if info not in HEAP_INFO_SIZES:
            return None
        first = heap + info
    first += -(first + 0x10) % MALLOC_ALIGNMENT  # chunk2mem(first) is aligned (arena.c)
    size_field = ctx.word(first + 8)
    return first if size_field and size_field & NON_MAIN_ARENA else None


def thread_heaps(ctx: Context) -> list[Region]:
    """The heaps of the thread arenas: anonymous writable mappings at a multiple of
    HEAP_MAX_SIZE whose ``heap_info.ar_ptr`` names an arena."""
    out = []
    for m in ctx.mappings():
        if m.path or not m.writable or m.start % HEAP_MAX_SIZE:
            continue
        ar_ptr, size = ctx.word(m.start), ctx.word(m.start + 16)
        if not ar_ptr or not size or not 0 < size <= HEAP_MAX_SIZE:
            continue
        first = _first_chunk(ctx, m.start, ar_ptr)
        if first is not None:
            name = f"thread arena heap at {m.start:#x}"
            out.append(Region(first, min(m.start + size, m.end), name, thread_arena=True))
    return out
