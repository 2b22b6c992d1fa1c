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

import itertools
from dataclasses import dataclass, field
from typing import Any

from coresnap.analysis.chunks import (
    REACHED_TOP,
    SIZE_BITS,
    Chunk,
    Region,
    Walk,
    thread_heaps,
    walk_chunks,
)
from coresnap.analysis.context import DRGN_ERRORS, Context

TCACHE_BINS = 64
TCACHE_HEADER = (0, 0x291)
MAX_BIN_WALK = 10_000


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


def _tcache(ctx: Context, state: HeapState, struct: int | None = None) -> None:
    """Mark the chunks of the tcache_perthread_struct whose chunk is at ``struct`` (the heap's
    first chunk: the main thread's for the main heap, a thread's for its arena's heap)."""
    base = (state.start if struct is None else struct) + 0x10
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


def _main_region(state: HeapState) -> Region:
    return Region(state.start, state.end, "main heap")


def heap_walk(ctx: Context) -> tuple[HeapState, Walk] | None:
    """The main heap and its chunk-by-chunk walk, or None when no heap is found (computed once)."""
    state = heap_state(ctx)
    if state is None:
        return None
    return state, ctx.memo("heap_walk", lambda: walk_chunks(ctx, _main_region(state)))


def walks(ctx: Context) -> list[tuple[Region, Walk]]:
    """Each heap with its chunk-by-chunk walk (computed once)."""

    def compute() -> list[tuple[Region, Walk]]:
        found = heap_walk(ctx)
        main = [(_main_region(found[0]), found[1])] if found else []
        return main + [
            (r, walk_chunks(ctx, r)) for r in ctx.memo("thread_heaps", lambda: thread_heaps(ctx))
        ]

    return list(ctx.memo("walks", compute))


def locate(ctx: Context, address: int) -> tuple[Region, Walk] | None:
    """The heap holding ``address`` (from its first chunk to its end) and its walk."""
    return next(((r, w) for r, w in walks(ctx) if r.contains(address)), None)


def _thread_tcache(ctx: Context, region: Region) -> HeapState:
    """The tcache of the thread whose arena owns ``region`` (computed once): its first chunk,
    when that chunk has a tcache_perthread_struct's size (0x290, NON_MAIN_ARENA, PREV_INUSE)."""

    def compute() -> HeapState:
        state = HeapState(region.start, region.end, region.name)
        if ctx.word(region.start + 8) == TCACHE_HEADER[1] | 0x4:
            _tcache(ctx, state, region.start)
        return state

    found: HeapState = ctx.memo(f"tcache {region.start:#x}", compute)
    return found


def chunk_state(ctx: Context, region: Region, walk: Walk, chunk: Chunk) -> str | None:
    """Where the allocator has ``chunk`` when it is free ("tcache bin 1", "free (chunk
    headers)"), None while it is in use. A thread arena's heap is judged by its thread's tcache
    and the next chunk's PREV_INUSE (its bins are not walked)."""
    if not region.thread_arena:
        state = heap_state(ctx)
        return state.free_state(chunk.user) if state is not None else None
    in_tcache = _thread_tcache(ctx, region).free_state(chunk.user)
    if in_tcache:
        return in_tcache
    i = walk.chunks.index(chunk)
    following = walk.chunks[i + 1] if i + 1 < len(walk.chunks) else None
    if following is None:
        return "top chunk" if walk.stop == REACHED_TOP else None
    return None if following.size_field & 0x1 else "free (chunk headers)"


def tcache_key(ctx: Context) -> int | None:
    """glibc's tcache key (one random value for every thread since 2.34), from the first
    tcache entry found in the main heap or a thread arena's heap."""
    state = heap_state(ctx)
    if state is not None and state.tcache_key is not None:
        return state.tcache_key
    for region, _ in walks(ctx):
        key = _thread_tcache(ctx, region).tcache_key if region.thread_arena else None
        if key is not None:
            return key
    return None


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
    _mark_from_headers(state, ctx.memo("heap_walk", lambda: walk_chunks(ctx, _main_region(state))))
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
