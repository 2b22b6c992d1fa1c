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

from coresnap.analysis.context import Context

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
    """The main heap's range and the user pointers of the chunks known to be free."""

    start: int
    end: int
    source: str  # "drgn: mp_.sbrk_base" or "chunk headers"
    tcache: dict[int, int] = field(default_factory=dict)  # user pointer -> tcache bin index
    fastbins: dict[int, int] = field(default_factory=dict)  # user pointer -> fastbin index
    tcache_key: int | None = None

    def contains(self, address: int) -> bool:
        return self.start <= address < self.end

    def free_state(self, user: int) -> str | None:
        if user in self.tcache:
            return f"tcache bin {self.tcache[user]}"
        if user in self.fastbins:
            return f"fastbin {self.fastbins[user]}"
        return None

    def as_dict(self) -> dict[str, Any]:
        return {
            "start": self.start,
            "end": self.end,
            "source": self.source,
            "tcache": sorted(self.tcache),
            "fastbins": sorted(self.fastbins),
            "tcache_key": self.tcache_key,
        }


def _heap_start(ctx: Context) -> tuple[int, str] | None:
    if ctx.program is not None:
        try:
            base = int(ctx.program["mp_"].sbrk_base.value_())
            if base:
                return base, "drgn: mp_.sbrk_base"
        except Exception:  # drgn raises LookupError/FaultError/ObjectAbsentError
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
            state.tcache[user] = i
    if state.tcache:
        state.tcache_key = ctx.word(next(iter(state.tcache)) + 8)


def _fastbins(ctx: Context, state: HeapState) -> None:
    try:
        bins = ctx.program["main_arena"].fastbinsY
        heads = [int(bins[i].value_()) for i in range(len(bins))]
    except Exception:  # no libc debug info: the fastbins stay unknown
        return
    for i, chunk in enumerate(heads):
        if chunk:
            for user in _walk_list(ctx, chunk + 0x10, MAX_BIN_WALK):
                state.fastbins[user] = i


def heap_state(ctx: Context) -> HeapState | None:
    """The main heap and its free tcache/fastbin chunks, or None when no heap is found."""
    found = _heap_start(ctx)
    if found is None:
        return None
    start, source = found
    m = ctx.mapping_at(start)
    state = HeapState(start, m.end if m else start, source)
    _tcache(ctx, state)
    if ctx.program is not None:
        _fastbins(ctx, state)
    return state


def free_chunks(ctx: Context, state: HeapState, limit: int = 256) -> list[list[Any]]:
    """``[start, end, where]`` of the user memory of free chunks (tcache, fastbins), bounded."""
    out: list[list[Any]] = []
    for user in sorted({*state.tcache, *state.fastbins})[:limit]:
        size = ctx.word(user - 8)
        if size is None:
            continue
        # The user memory runs to the next chunk's size field (its prev_size word is usable).
        out.append([user, user + (size & ~SIZE_BITS) - 8, state.free_state(user)])
    return out


def chunk_containing(ctx: Context, state: HeapState, address: int) -> int | None:
    """The user pointer of the heap chunk that contains ``address`` (walking size fields)."""
    chunk = state.start
    for _ in range(MAX_CHUNKS):
        size = ctx.word(chunk + 8)
        if size is None or size & ~SIZE_BITS < 0x20 or chunk >= state.end:
            return None
        size &= ~SIZE_BITS
        if chunk + 0x10 <= address < chunk + size + 8:
            return chunk + 0x10
        chunk += size
    return None
