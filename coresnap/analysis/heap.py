"""glibc malloc state, read from the core: which chunks are free, and safe-linked pointers.

Layouts are glibc 2.26+ on 64-bit (malloc/malloc.c): a chunk is ``prev_size, size`` then user
memory; ``size``'s low bits are PREV_INUSE (1), IS_MMAPPED (2), NON_MAIN_ARENA (4). The first
chunk of the main heap is the main thread's ``tcache_perthread_struct`` (``uint16_t counts[64];
tcache_entry *entries[64]`` = 0x280 bytes, so its header reads ``0, 0x291``). Since glibc 2.32 a
tcache/fastbin ``next`` is stored "safe-linked": ``PROTECT_PTR(pos, ptr) = (pos >> 12) ^ ptr``
where ``pos`` is the address of the ``next`` field itself (the chunk's user pointer).

With libc's debug info and a drgn program, ``mp_.sbrk_base`` locates the heap and
``main_arena.fastbinsY`` adds the fastbins; without them the heap is found by its first chunk.
"""

from __future__ import annotations

import bisect
import itertools
from dataclasses import dataclass, field
from typing import Any

from coresnap.analysis.context import DRGN_ERRORS, Context

TCACHE_BINS = 64
TCACHE_HEADER = (0, 0x291)
MAX_CHUNKS = 100_000  # bound the heap walk: cores are attacker-controlled
MAX_BIN_WALK = 10_000
SIZE_BITS = 0x7  # PREV_INUSE | IS_MMAPPED | NON_MAIN_ARENA
REACHED_TOP = "reached the top chunk: every chunk header on the way is valid"


def protect_ptr(pos: int, ptr: int) -> int:
    """glibc's PROTECT_PTR: how a tcache/fastbin ``next`` stored at ``pos`` looks in memory."""
    return (pos >> 12) ^ ptr


@dataclass
class HeapState:
    """The main heap's range and its free chunks: user pointer -> where the allocator has it."""

    start: int
    end: int
    source: str  # "drgn: mp_.sbrk_base" or "chunk headers: ..."
    free: dict[int, str] = field(default_factory=dict)  # "tcache bin 0", "fastbin 1", ...
    tcache_key: int | None = None

    def contains(self, address: int) -> bool:
        return self.start <= address < self.end

    def free_state(self, user: int) -> str | None:
        return self.free.get(user)

    def mark(self, user: int, where: str) -> None:
        self.free.setdefault(user, where)  # the first (most specific) walk wins


def _heap_start(ctx: Context) -> tuple[int, str] | None:
    if ctx.program is not None:
        try:
            base = int(ctx.program["mp_"].sbrk_base.value_())
            if base:
                return base, "drgn: mp_.sbrk_base"
        except DRGN_ERRORS:  # no libc debug info: find the heap by its first chunk
            pass
    for m in ctx.mappings():
        if (
            m.writable
            and not m.path
            and (ctx.word(m.start), ctx.word(m.start + 8)) == TCACHE_HEADER
        ):
            return m.start, "chunk headers: tcache_perthread_struct at the mapping start"
    return None


def _walk_list(ctx: Context, head: int, limit: int) -> list[int]:
    """Follow a safe-linked singly linked list of user pointers from ``head``."""
    seen: list[int] = []
    entry = head
    while entry and len(seen) < min(limit, MAX_BIN_WALK) and entry not in seen:
        if entry % 16:
            break  # glibc aborts on a misaligned entry too ("unaligned tcache chunk detected")
        seen.append(entry)
        stored = ctx.word(entry)
        if stored is None:
            break
        entry = protect_ptr(entry, stored)
    return seen


def _tcache(ctx: Context, state: HeapState) -> None:
    base = state.start + 0x10
    counts = ctx.read(base, 2 * TCACHE_BINS)
    entries = ctx.read(base + 2 * TCACHE_BINS, 8 * TCACHE_BINS)
    if counts is None or entries is None:
        return
    for i in range(TCACHE_BINS):
        count = int.from_bytes(counts[2 * i : 2 * i + 2], "little")
        head = int.from_bytes(entries[8 * i : 8 * i + 8], "little")
        for user in _walk_list(ctx, head, count):
            state.mark(user, f"tcache bin {i}")
            if state.tcache_key is None:
                state.tcache_key = ctx.word(user + 8)


def _fastbins(ctx: Context, state: HeapState) -> None:
    try:
        bins = ctx.program["main_arena"].fastbinsY
        heads = [int(bins[i].value_()) for i in range(len(bins))]
    except DRGN_ERRORS:  # no libc debug info: the fastbins stay unknown
        return
    for i, chunk in enumerate(heads):
        if chunk:
            for user in _walk_list(ctx, chunk + 0x10, MAX_BIN_WALK):
                state.mark(user, f"fastbin {i}")


def _bin_name(i: int) -> str:
    # malloc.c: bin 1 is the unsorted bin, 2..63 the small bins, the rest the large bins.
    return "unsorted bin" if i == 1 else f"small bin {i}" if i < 64 else f"large bin {i}"


def _bins(ctx: Context, state: HeapState) -> None:
    """The doubly linked bins: ``bins[2i-2]``/``bins[2i-1]`` are bin i's fd/bk, and the bin
    header acts as a fake chunk whose ``fd`` field is at ``&bins[2i-2]`` (bin_at in malloc.c)."""
    try:
        base = int(ctx.program["main_arena"].bins.address_)
    except DRGN_ERRORS:  # no libc debug info: the header walk below still finds free chunks
        return
    for i in range(1, 128):
        header = base + (i - 1) * 16 - 0x10
        chunk = ctx.word(header + 0x10)
        for _ in range(MAX_BIN_WALK):
            if chunk is None or chunk == header or not state.contains(chunk):
                break
            state.mark(chunk + 0x10, _bin_name(i))
            chunk = ctx.word(chunk + 0x10)


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


def invalid_size(size_field: int, address: int, heap_end: int) -> str | None:
    """Why a chunk's size field cannot be right (malloc.c: MINSIZE, MALLOC_ALIGNMENT, the chunk
    must end inside the heap, a main-heap chunk is never IS_MMAPPED), or None."""
    size = size_field & ~SIZE_BITS
    if size < 0x20:
        return f"{size_field:#x} is below the minimum chunk size 0x20"
    if size % 16:
        return f"{size_field:#x} is not a multiple of 16"
    if size_field & 0x2:
        return f"{size_field:#x} has IS_MMAPPED set inside the main heap"
    if address + size > heap_end:
        return f"{size_field:#x} runs past the heap end {heap_end:#x}"
    return None


def walk_chunks(ctx: Context, state: HeapState) -> Walk:
    """Walk chunk by chunk from the heap start (bounded), stopping at a size that cannot be."""
    chunks: list[Chunk] = []
    chunk = state.start
    for _ in range(MAX_CHUNKS):
        size_field = ctx.word(chunk + 8)
        if size_field is None:
            return Walk(chunks, f"the header at {chunk:#x} is unreadable")
        why = invalid_size(size_field, chunk, state.end)
        if why is not None:
            return Walk(
                chunks,
                f"the size field of the chunk at {chunk:#x}: {why}",
                Chunk(chunk, size_field),
            )
        chunks.append(Chunk(chunk, size_field))
        chunk += size_field & ~SIZE_BITS
        if chunk >= state.end:
            return Walk(chunks, REACHED_TOP)
    return Walk(chunks, f"stopped after {MAX_CHUNKS} chunks")


def _mark_from_headers(state: HeapState, walk: Walk) -> None:
    """A chunk whose successor has PREV_INUSE clear is free (in a bin, or consolidated); the
    last chunk is the top chunk."""
    for chunk, following in itertools.pairwise(walk.chunks):
        if not following.size_field & 0x1:
            state.mark(chunk.user, "free (chunk headers)")
    if walk.stop == REACHED_TOP and walk.chunks:
        state.mark(walk.chunks[-1].user, "top chunk")


def heap_state(ctx: Context) -> HeapState | None:
    """The main heap and its free chunks, or None when no heap is found (computed once)."""
    return ctx.memo("heap_state", lambda: _heap_state(ctx))


def heap_walk(ctx: Context) -> tuple[HeapState, Walk] | None:
    """The main heap and its chunk-by-chunk walk, or None when no heap is found (computed once)."""
    state = heap_state(ctx)
    return (state, ctx.memo("heap_walk", lambda: walk_chunks(ctx, state))) if state else None


def _heap_state(ctx: Context) -> HeapState | None:
    found = _heap_start(ctx)
    if found is None:
        return None
    start, source = found
    m = ctx.mapping_at(start)
    state = HeapState(start, m.end if m else start, source)
    _tcache(ctx, state)
    if ctx.program is not None:
        _fastbins(ctx, state)
        _bins(ctx, state)
    _mark_from_headers(state, ctx.memo("heap_walk", lambda: walk_chunks(ctx, state)))
    return state


def free_chunks(ctx: Context, state: HeapState, limit: int = 256) -> list[list[Any]]:
    """``[start, end, where]`` of the user memory of free chunks, bounded (lowest first)."""
    out: list[list[Any]] = []
    for user in sorted(state.free)[:limit]:
        size = ctx.word(user - 8)
        if size is None:
            continue
        # The user memory runs to the next chunk's size field (its prev_size word is usable).
        out.append([user, user + (size & ~SIZE_BITS) - 8, state.free[user]])
    return out
