"""Use after free through a function pointer: the call's target came out of a freed heap chunk,
or out of a chunk malloc has since handed to another owner who wrote data over the pointer.

The pc then holds whatever the chunk holds now: glibc's tcache key or a safe-linked free-list
pointer while the chunk is free; the new owner's text, integers or pointers once it is reused.
The verdict rests on facts a debugger can check: the call instruction and the slot its target
was loaded from (the word there is the target), the chunk holding that slot and its state from
the heap walk, what the loaded value is, and the variables of the crashed thread that point
into the chunk (the stale pointer, and a differently typed one: the new owner).
"""

from __future__ import annotations

from typing import Any

from coresnap.analysis.calls import branch_at, branch_target, call_before, canonical
from coresnap.analysis.chunks import Chunk
from coresnap.analysis.context import NULL_PAGE_LIMIT, Context
from coresnap.analysis.evidence import Verdict
from coresnap.analysis.heap import chunk_state, locate, protect_ptr, tcache_key
from coresnap.analysis.loads import as_facts, target_slot
from coresnap.analysis.rules import Rule, hexa

MAX_FRAMES = 16  # frames of the crashed thread searched for pointers into the chunk
MIN_TEXT = 4  # printable bytes for a loaded value to read as text


def _branch(ctx: Context) -> tuple[Any, int, bool] | None:
    """(the call, its target, whether it pushed a return address) for the crashed thread."""
    pc, sp = ctx.pc, ctx.sp
    if pc is None or sp is None:
        return None
    if ctx.fault_address == pc:  # the call completed: its return address is at sp
        ret = ctx.word(sp)
        branch = call_before(ctx, ret) if ret else None
        return (branch, pc, True) if branch else None
    branch = branch_at(ctx, pc)  # a non-canonical target: the call itself faulted
    if branch is None:
        return None
    target = branch_target(ctx, branch)
    return (branch, target, False) if target is not None and not canonical(target) else None


def _text(value: int) -> str | None:
    data = value.to_bytes(8, "little").rstrip(b"\0")
    if len(data) >= MIN_TEXT and all(0x20 <= b < 0x7F or b in (9, 10) for b in data):
        return data.decode()
    return None


def _free_list_word(ctx: Context, free: str, chunk: Chunk, offset: int, value: int) -> str | None:
    """What glibc keeps at ``offset`` of a free chunk (malloc.c: tcache_entry {next, key};
    malloc_chunk {fd, bk} past the header), when ``value`` is that word."""
    if free.startswith("tcache") and offset == 8 and value == tcache_key(ctx):
        return "the tcache key glibc writes into every chunk it puts in a tcache bin"
    if free.startswith(("tcache", "fastbin")) and offset == 0:
        return (
            f"the chunk's safe-linked next pointer (next = {hexa(protect_ptr(chunk.user, value))})"
        )
    if not free.startswith(("tcache", "fastbin")) and offset in (0, 8):
        return f"the chunk's {('fd', 'bk')[offset // 8]} pointer of its free list"
    return None


def value_kind(ctx: Context, free: str | None, chunk: Chunk, offset: int, value: int) -> str | None:
    """What the word at ``offset`` of ``chunk`` (``value``) is when it is plainly data, not a
    code address; None otherwise. ``free``: where the allocator has the chunk, if free."""
    found = _free_list_word(ctx, free, chunk, offset, value) if free else None
    if found:
        return found
    text = _text(value)
    if text is not None:
        return f"text {text!r}"
    signed = value - (1 << 64) if value >> 63 else value
    if 0 < abs(signed) < NULL_PAGE_LIMIT:
        return f"a small integer ({signed})"
    m = ctx.mapping_at(value)
    if m is not None and not m.executable:
        where = "the heap" if locate(ctx, value) else m.path or f"{m.perms} memory"
        return f"a pointer into {where}, not into code"
    return None


def _pointer_type(type_: str) -> str:
    return type_.replace("const ", "").replace("volatile ", "").strip()


def references(ctx: Context, chunk: Chunk) -> list[dict[str, Any]]:
    """Variables of the crashed thread's frames that point into ``chunk``, innermost first."""
    out = []
    for frame in ctx.frames[:MAX_FRAMES]:
        for var in frame.get("variables") or []:
            value = var.get("value") if isinstance(var, dict) else None
            type_ = str(var.get("type") or "") if isinstance(var, dict) else ""
            if isinstance(value, int) and "*" in type_ and chunk.contains(value):
                out.append(
                    {
                        "variable": var.get("name"),
                        "type": type_,
                        "frame": frame.get("index"),
                        "function": frame.get("function"),
                        "value": hexa(value),
                    }
                )
    return out


def _chunk_facts(ctx: Context, slot: int, target: int) -> dict[str, Any]:
    """The chunk holding ``slot``, what ``target`` is, and who points into the chunk; or
    ``{"unproven": why}``."""
    located = locate(ctx, slot)
    if located is None:
        m = ctx.mapping_at(slot)
        where = (m.path or f"anonymous {m.perms} memory") if m else "no mapping"
        return {
            "unproven": f"the function pointer was read from {hexa(slot)} ({where}), not a heap"
        }
    region, walk = located
    chunk = walk.find(slot)
    if chunk is None:
        return {
            "unproven": f"the walk of the {region.name} did not reach {hexa(slot)}: {walk.stop}"
        }
    free = chunk_state(ctx, region, walk, chunk)
    refs = references(ctx, chunk)
    stale = refs[0] if refs else None
    owners = [r for r in refs if stale and _pointer_type(r["type"]) != _pointer_type(stale["type"])]
    return {
        "loaded_value": hexa(target),
        "loaded_value_is": value_kind(ctx, free, chunk, slot - chunk.user, target),
        "chunk": {"address": hexa(chunk.user), "size": hexa(chunk.size), "state": free or "in use"},
        "slot_offset": slot - chunk.user,
        "stale_pointer": stale,
        "new_owner": owners,
        "heap": {"start": hexa(region.start), "end": hexa(region.end), "name": region.name},
    }


def stale_call(ctx: Context) -> dict[str, Any] | None:
    """The facts of a call through a pointer loaded from the heap (an observation), or None
    when the crash is not a call through a loaded pointer."""
    found = _branch(ctx)
    if found is None:
        return None
    branch, target, pushed = found
    slot = target_slot(ctx, branch, target, pushed)
    if slot is None:
        return {
            "unproven": f"where `{branch.text}` loaded its target {hexa(target)} from is unknown"
        }
    return {**as_facts(branch, slot), **_chunk_facts(ctx, slot["slot"], target)}


class StaleCall(Rule):
    """A call through a function pointer reached a bad pc (or a non-canonical one) and the
    pointer came out of a heap chunk that is free (confidence 1), or that is in use again and
    holds plain data where the pointer was: a new owner's text, integer or pointer (0.7; 0.9 when
    a differently typed variable of the crashed thread points at the same chunk). A corrupt
    pointer in a global or on the stack, or a chunk holding no recognisable data, stays a bad
    jump."""

    name = "use-after-free-call"

    def predicate(self, ctx: Context, verdict: Verdict) -> bool:
        return verdict.has("bad-jump", "exec-nonexec")

    def action(self, ctx: Context, verdict: Verdict) -> None:
        facts = ctx.observe("stale_call", lambda: stale_call(ctx))
        if not isinstance(facts, dict):
            return
        if "unproven" in facts:
            verdict.notes.append(f"{self.name}: no use after free: {facts['unproven']}")
            return
        state, kind = facts["chunk"]["state"], facts["loaded_value_is"]
        if state == "in use" and kind is None:
            why = f"{facts['loaded_value']} in an in-use chunk is not recognisably another owner's data"
            verdict.notes.append(f"{self.name}: no use after free: {why}")
            return
        confidence = 1.0 if state != "in use" else 0.9 if facts["new_owner"] else 0.7
        facts = {**facts, "reason": _reason(state, kind)}
        verdict.drop("null-deref", f"{self.name}: the small pc was loaded from a heap chunk")
        verdict.add("use-after-free", facts, confidence, first=True)


def _reason(state: str, kind: str | None) -> str:
    if state != "in use":
        return f"the function pointer was loaded from a freed chunk ({state}); it holds {kind or 'stale data'}"
    return f"the function pointer was loaded from a chunk that is in use again; it holds {kind}"
