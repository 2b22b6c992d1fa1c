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

from dataclasses import dataclass, field
from typing import Any

from coresnap.analysis.context import DRGN_ERRORS, Context

TCACHE_BINS = 64
TCACHE_HEADER = (0, 0x291)
MAX_CHUNKS = 100_000  # bound the heap walk: cores are attacker-controlled
MAX_BIN_WALK = 10_000
SIZE_BITS = 0x7  # PREV_INUSE | IS_MMAPPED | NON_MAIN_ARENA


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


def _walk_headers(ctx: Context, state: HeapState) -> None:
    """Walk chunk by chunk from the heap start: a chunk whose successor has PREV_INUSE clear is
    free (in a bin, or consolidated); the last chunk is the top chunk."""
    chunk = state.start
    for _ in range(MAX_CHUNKS):
        size = ctx.word(chunk + 8)
        if size is None or size & ~SIZE_BITS < 0x20 or size & 0x2:
            return  # unreadable, corrupt, or an mmapped chunk: stop rather than guess
        following = chunk + (size & ~SIZE_BITS)
        if following >= state.end:
            state.mark(chunk + 0x10, "top chunk")
            return
        next_size = ctx.word(following + 8)
        if next_size is None:
            return
        if not next_size & 0x1:
            state.mark(chunk + 0x10, "free (chunk headers)")
        chunk = following


def heap_state(ctx: Context) -> HeapState | None:
    """The main heap and its free chunks, or None when no heap is found."""
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
    _walk_headers(ctx, state)
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
