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

from coresnap.analysis.chunks import Chunk, Region, Walk, invalid_size
from coresnap.analysis.context import Context
from coresnap.analysis.evidence import SIGABRT, Verdict
from coresnap.analysis.heap import locate, walks
from coresnap.analysis.messages import abort_message
from coresnap.analysis.rules import Rule, hexa, signal_facts
from coresnap.analysis.rules_heap import block_being_freed

# The free-path messages a corrupt header of the freed chunk produces (glibc 2.26-2.40).
HEADER_MESSAGES = re.compile(
    r"(free|munmap_chunk|realloc)\(\): invalid (pointer|size)|double free or corruption \(out\)"
)
STACK_WORDS = 512  # words above sp searched for the pointer when glibc's frames lost it
MEMBER_WORDS = 32  # words of a struct a variable points at searched for it
RESYNC_LIMIT = 1 << 16  # how far past a corrupt header its real size is looked for


def _in_variables(ctx: Context, user: int) -> str | None:
    """A variable of the crashed thread that holds ``user``, or a struct one points at that
    holds it (``j->window`` for ``free(j->window)``)."""
    pointers = []
    for frame in ctx.frames:
        where = f"(frame {frame.get('index')} {frame.get('function')})"
        for var in frame.get("variables") or []:
            value = var.get("value") if isinstance(var, dict) else None
            if value == user:
                return f"`{var.get('name')}` {where}"
            if isinstance(value, int) and "*" in str(var.get("type") or "") and value > 0x10000:
                pointers.append((f"`{var.get('name')}`", value, where))
    for name, value, where in pointers:
        data = ctx.read(value, 8 * MEMBER_WORDS) or b""
        for i in range(0, len(data) - 7, 8):
            if int.from_bytes(data[i : i + 8], "little") == user:
                return f"the word at {name} + {i:#x} {where}"
    return None


def _pointer_to(ctx: Context, user: int) -> str | None:
    """Where the crashed thread holds ``user`` when glibc's own frames do not say: a variable
    (the caller passed it to free()), a struct a variable points at, else a word of the stack
    (a saved register)."""
    found = _in_variables(ctx, user)
    sp = ctx.sp
    if found is not None or sp is None:
        return found
    data = ctx.read(sp, 8 * STACK_WORDS) or b""
    for i in range(0, len(data) - 7, 8):
        if int.from_bytes(data[i : i + 8], "little") == user:
            return f"the stack at {hexa(sp + i)}"
    return None


def _int_free_size(ctx: Context) -> int | None:
    """``_int_free``'s ``size`` (chunksize(p) of the chunk being freed), when recorded."""
    for frame in ctx.frames:
        if str(frame.get("function") or "").endswith("_int_free"):
            for var in frame.get("variables") or []:
                if isinstance(var, dict) and var.get("name") == "size":
                    value = var.get("value")
                    return value if isinstance(value, int) else None
    return None


def _freed(ctx: Context, bad: list[Chunk]) -> tuple[int, str, float] | None:
    """The pointer free() was given, where that is known from, and how directly: glibc's
    frames say it (1.0), ``_int_free``'s ``size`` is a corrupt chunk's size field (1.0), or a
    chunk whose header stopped a walk is what the thread holds (0.9)."""
    exact = block_being_freed(ctx)
    if exact is not None:
        return exact[0], exact[1], 1.0
    size = _int_free_size(ctx)
    sized = [b for b in bad if size is not None and b.size == size]
    if len(sized) == 1:
        return sized[0].user, f"_int_free's `size` {size:#x} is this chunk's size field", 1.0
    for chunk in bad:
        where = _pointer_to(ctx, chunk.user)
        if where:
            return chunk.user, where, 0.9
    return None


def _probable_size(ctx: Context, region: Region, header: int) -> int | None:
    """The size that puts two valid headers after the corrupt one: what it probably was."""
    for size in range(0x20, RESYNC_LIMIT, 0x10):
        following = header + size
        first = ctx.word(following + 8)
        if first is None or following >= region.end:
            return None
        if invalid_size(first, following, region) is None:
            second = following + (first & ~0x7)
            after = ctx.word(second + 8) if second < region.end else None
            if second == region.end or (after and not invalid_size(after, second, region)):
                return size
    return None


def _not_a_chunk(ctx: Context, located: tuple[Region, Walk] | None, block: int) -> str | None:
    """Why ``block`` was never returned by malloc, or None when it is (or may be) a chunk start."""
    if block % 16:
        return f"{hexa(block)} is not 16-byte aligned (MALLOC_ALIGNMENT): malloc never returned it"
    if located is None:
        m = ctx.mapping_at(block)
        where = (m.path or f"anonymous {m.perms} memory") if m else "no mapping"
        return f"{hexa(block)} is in no heap: it is in {where}"
    chunk = located[1].find(block)
    if chunk is not None and chunk.user != block:
        return (
            f"{hexa(block)} is {block - chunk.user:#x} bytes inside the chunk at {hexa(chunk.user)}"
        )
    return None


def _stops(heaps: list[tuple[Region, Walk]]) -> str:
    return "; ".join(f"{region.name}: {walk.stop}" for region, walk in heaps)


def header_check(ctx: Context) -> dict[str, Any] | None:
    """The facts about the pointer an aborting free() was given (an observation)."""
    heaps = walks(ctx)
    if not heaps:
        return None
    found = _freed(ctx, [w.bad for _, w in heaps if w.bad is not None])
    if found is None:  # the walks still say whether any header is corrupt
        return {"block": None, "verdict": "unknown", "heap_walk": _stops(heaps)}
    block, source, confidence = found
    located = locate(ctx, block)
    facts: dict[str, Any] = {"block": hexa(block), "block_from": source}
    facts["heap_walk"] = located[1].stop if located else _stops(heaps)
    why = _not_a_chunk(ctx, located, block)
    if why is not None or located is None:
        return {**facts, "verdict": "not a chunk", "reason": why}
    region, walk = located
    if any(chunk.user == block for chunk in walk.chunks):
        return {**facts, "verdict": "chunk start", "reason": "its header is a valid chunk header"}
    if walk.bad is None or walk.bad.user != block:
        return {**facts, "verdict": "unknown", "reason": f"the walk did not reach {hexa(block)}"}
    facts.update(
        verdict="corrupt header",
        confidence=confidence,
        chunk=hexa(walk.bad.address),
        size_field=hexa(walk.bad.size_field),
        heap={"start": hexa(region.start), "end": hexa(region.end), "name": region.name},
    )
    if walk.chunks:
        previous = walk.chunks[-1]
        facts["previous_chunk"] = {"address": hexa(previous.address), "size": hexa(previous.size)}
    size = _probable_size(ctx, region, walk.bad.address)
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
