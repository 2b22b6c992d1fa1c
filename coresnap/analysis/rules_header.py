"""free() aborted on a pointer: was it never malloc's (invalid-free), or is it a real chunk whose
header was overwritten (heap-corruption)?

glibc's free path checks the chunk header just below the pointer (malloc.c ``_int_free``,
``munmap_chunk``): a size no chunk can have gives "free(): invalid pointer", "free(): invalid
size", "munmap_chunk(): invalid pointer" or "double free or corruption (out)". The same messages
come from freeing a pointer malloc never returned (an interior, stack or global address). The
heap walk tells them apart: walking chunk by chunk from the heap start by their size fields, the
chunk before a real chunk ends exactly at its header; if that header's size cannot be, the
header was overwritten (a write before the start of the buffer, or past the end of the one
before it). A pointer that is misaligned, outside the heap, or inside a walked chunk was never
a chunk start.
"""

from __future__ import annotations

import re
from typing import Any

from coresnap.analysis.context import Context
from coresnap.analysis.evidence import SIGABRT, Verdict
from coresnap.analysis.heap import Chunk, HeapState, Walk, heap_walk, invalid_size
from coresnap.analysis.messages import abort_message
from coresnap.analysis.rules import Rule, hexa, signal_facts
from coresnap.analysis.rules_heap import block_being_freed

# The free-path messages a corrupt header of the freed chunk produces (glibc 2.26-2.40).
HEADER_MESSAGES = re.compile(
    r"(free|munmap_chunk|realloc)\(\): invalid (pointer|size)|double free or corruption \(out\)"
)
STACK_WORDS = 512  # words above sp searched for the pointer when glibc's frames lost it
RESYNC_LIMIT = 1 << 16  # how far past a corrupt header its real size is looked for


def _pointer_to(ctx: Context, user: int) -> str | None:
    """Where the crashed thread holds ``user`` when glibc's own frames do not say: a variable
    (the caller passed it to free()), else a word of the stack (a saved register)."""
    for frame in ctx.frames:
        for var in frame.get("variables") or []:
            if isinstance(var, dict) and var.get("value") == user:
                return f"`{var.get('name')}` (frame {frame.get('index')} {frame.get('function')})"
    sp = ctx.sp
    data = ctx.read(sp, 8 * STACK_WORDS) if sp is not None else None
    if sp is None or data is None:
        return None
    for i in range(0, len(data), 8):
        if int.from_bytes(data[i : i + 8], "little") == user:
            return f"the stack at {hexa(sp + i)}"
    return None


def _freed(ctx: Context, walk: Walk) -> tuple[int, str, float] | None:
    """The pointer free() was given, where that is known from, and how directly: glibc's
    frames say it (1.0), or the chunk whose header stopped the walk is what the thread holds
    (0.9)."""
    exact = block_being_freed(ctx)
    if exact is not None:
        return exact[0], exact[1], 1.0
    if walk.bad is None:
        return None
    where = _pointer_to(ctx, walk.bad.user)
    return (walk.bad.user, where, 0.9) if where else None


def _probable_size(ctx: Context, state: HeapState, header: int) -> int | None:
    """The size that puts two valid headers after the corrupt one: what it probably was."""
    for size in range(0x20, RESYNC_LIMIT, 0x10):
        following = header + size
        first = ctx.word(following + 8)
        if first is None or following >= state.end:
            return None
        if invalid_size(first, following, state.end) is None:
            second = following + (first & ~0x7)
            after = ctx.word(second + 8) if second < state.end else None
            if second == state.end or (after and not invalid_size(after, second, state.end)):
                return size
    return None


def _not_a_chunk(ctx: Context, state: HeapState, walk: Walk, block: int) -> str | None:
    """Why ``block`` was never returned by malloc, or None when it is (or may be) a chunk start."""
    if block % 16:
        return f"{hexa(block)} is not 16-byte aligned (MALLOC_ALIGNMENT): malloc never returned it"
    if not state.contains(block):
        m = ctx.mapping_at(block)
        where = (m.path or f"anonymous {m.perms} memory") if m else "no mapping"
        return f"{hexa(block)} is not in the main heap: it is in {where}"
    chunk: Chunk | None = walk.find(block)
    if chunk is not None and chunk.user != block:
        return (
            f"{hexa(block)} is {block - chunk.user:#x} bytes inside the chunk at {hexa(chunk.user)}"
        )
    return None


def header_check(ctx: Context) -> dict[str, Any] | None:
    """The facts about the pointer an aborting free() was given (an observation)."""
    walked = heap_walk(ctx)
    if walked is None:
        return None
    state, walk = walked
    found = _freed(ctx, walk)
    if found is None:  # the walk still says whether any header in the heap is corrupt
        return {"block": None, "verdict": "unknown", "heap_walk": walk.stop}
    block, source, confidence = found
    facts: dict[str, Any] = {"block": hexa(block), "block_from": source, "heap_walk": walk.stop}
    why = _not_a_chunk(ctx, state, walk, block)
    if why is not None:
        return {**facts, "verdict": "not a chunk", "reason": why}
    if any(chunk.user == block for chunk in walk.chunks):
        return {**facts, "verdict": "chunk start", "reason": "its header is a valid chunk header"}
    if walk.bad is None or walk.bad.user != block:
        return {**facts, "verdict": "unknown", "reason": f"the walk did not reach {hexa(block)}"}
    previous = walk.chunks[-1] if walk.chunks else None
    facts.update(
        verdict="corrupt header",
        confidence=confidence,
        chunk=hexa(walk.bad.address),
        size_field=hexa(walk.bad.size_field),
        heap={"start": hexa(state.start), "end": hexa(state.end), "source": state.source},
    )
    if previous is not None:
        facts["previous_chunk"] = {"address": hexa(previous.address), "size": hexa(previous.size)}
    size = _probable_size(ctx, state, walk.bad.address)
    if size is not None:
        facts["probable_size"] = hexa(size)
    return facts


class CorruptChunkHeader(Rule):
    """free() aborted on a pointer that is a real chunk start (the heap walk from the heap
    start reaches its header) whose size field cannot be: the chunk's own header was overwritten
    (a heap underflow, or an overflow of the chunk before it), not a bad pointer passed to
    free(). Pointers malloc never returned stay invalid-free, with the reason."""

    name = "chunk-header"

    def predicate(self, ctx: Context, verdict: Verdict) -> bool:
        if ctx.signo != SIGABRT or verdict.fault_labels():
            return False
        message = ctx.observe("abort_message", lambda: abort_message(ctx))
        return bool(message and HEADER_MESSAGES.search(message))

    def action(self, ctx: Context, verdict: Verdict) -> None:
        check = ctx.observe("freed_chunk", lambda: header_check(ctx))
        if not isinstance(check, dict) or check.get("verdict") != "corrupt header":
            return
        facts = {**signal_facts(ctx), "message": ctx.observe("abort_message", lambda: None)}
        facts.update({k: v for k, v in check.items() if k not in ("verdict", "confidence")})
        facts["reason"] = (
            f"{check['block']} is a chunk start (the chunk before it ends at its header) and "
            f"the header was overwritten: {check['heap_walk']}"
        )
        verdict.add("heap-corruption", facts, float(check.get("confidence", 1.0)))
