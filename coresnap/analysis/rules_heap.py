"""Heap verdicts from the allocator's own state (glibc malloc), proved from memory."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from coresnap.analysis.context import Context
from coresnap.analysis.disasm import faulting_operand
from coresnap.analysis.evidence import SIGSEGV, Verdict
from coresnap.analysis.heap import HeapState, heap_state, protect_ptr
from coresnap.analysis.rules import Rule, hexa, instruction, instruction_facts, kernel_fault

STACK_WORDS = 512  # words of the crashed stack searched for the pointer that led to the fault


def _candidates(ctx: Context) -> Iterator[tuple[str, int]]:
    """Places that may hold the pointer the bad address was loaded through."""
    for frame in ctx.frames:
        for var in frame.get("variables") or []:
            held = var.get("value") if isinstance(var, dict) else None
            where = f"variable {var.get('name')}" if isinstance(var, dict) else ""
            items = enumerate(held[:64]) if isinstance(held, list) else [(None, held)]
            for i, item in items:  # an array of pointers counts element by element
                if isinstance(item, int) and not isinstance(item, bool):
                    at = f"{where}[{i}]" if i is not None else where
                    yield f"{at} (frame {frame.get('index')})", item
    for name, value in ctx.registers.items():
        yield f"register {name}", value
    sp = ctx.sp
    data = ctx.read(sp, 8 * STACK_WORDS) if sp is not None else None
    if sp is None or data is None:
        return
    for i in range(0, len(data), 8):
        yield f"stack {hexa(sp + i)}", int.from_bytes(data[i : i + 8], "little")


def _bad_values(ctx: Context) -> set[int]:
    values = {ctx.fault_address} if ctx.fault_address is not None else set()
    insn = instruction(ctx)
    op = faulting_operand(insn, ctx.fault_address) if insn else None
    if op is not None and op.base in ctx.registers:
        values.add(ctx.registers[op.base])
    return values


def _matches(ctx: Context, state: HeapState) -> Iterator[tuple[str, int, int, int, int]]:
    """(where, pointer, stored, offset, target) for each heap pointer whose first word is the
    bad value as a safe-linked ``next``."""
    bad = _bad_values(ctx)
    for where, pointer in _candidates(ctx):
        if not state.contains(pointer) or pointer % 16:
            continue
        stored = ctx.word(pointer)
        if stored is None:
            continue
        # The loaded pointer may have had an offset added before the access (a member, a
        # vtable slot): accept a bad value up to a page above it.
        offset = next((b - stored for b in bad if 0 <= b - stored < 4096), None)
        target = protect_ptr(pointer, stored)  # un-mangle: (pos >> 12) ^ stored
        if offset is not None and (not target or state.contains(target)):
            yield where, pointer, stored, offset, target


def _safe_link_proof(ctx: Context, state: HeapState) -> dict[str, Any] | None:
    found: dict[int, tuple[str, int, int, int]] = {}
    for where, pointer, stored, offset, target in _matches(ctx, state):
        found.setdefault(pointer, (where, stored, offset, target))
        if len(found) > 8:
            break
    if not found:
        return None
    # Chunks in one page share (pos >> 12): every match is a freed chunk that could have been
    # used; the first (a variable before registers and stack) is reported, the rest listed.
    pointer, (where, stored, offset, target) = next(iter(found.items()))
    key = ctx.word(pointer + 8)
    proof: dict[str, Any] = {
        "pointer": hexa(pointer),
        "pointer_held_in": where,
        "loaded_value": hexa(stored),
        "offset_added": offset,
        "safe_linking": f"{stored:#x} == ({pointer:#x} >> 12) ^ {target:#x}",
        "chunk_state": state.free_state(pointer) or "not in a walked free list",
        "tcache_key_matches": key is not None and key == state.tcache_key,
        "heap": {"start": hexa(state.start), "end": hexa(state.end), "source": state.source},
    }
    others = [
        f"{hexa(p)} in {w} ({state.free_state(p) or 'unknown'})" for p, (w, *_) in found.items()
    ]
    if len(others) > 1:
        proof["also_matching"] = others[1:]
    return proof


def _uaf_observation(ctx: Context) -> dict[str, Any] | None:
    state = heap_state(ctx)
    return _safe_link_proof(ctx, state) if state is not None else None


class UseAfterFree(Rule):
    """The faulting address was loaded from a freed chunk: it equals that chunk's safe-linked
    tcache/fastbin ``next`` ((chunk >> 12) ^ next), so the code used memory after free()."""

    name = "use-after-free"

    def predicate(self, ctx: Context, verdict: Verdict) -> bool:
        return kernel_fault(ctx, SIGSEGV) and not verdict.has("bad-jump", "exec-nonexec")

    def action(self, ctx: Context, verdict: Verdict) -> None:
        proof = ctx.observe("use_after_free", lambda: _uaf_observation(ctx))
        if not proof:
            return
        insn = instruction(ctx)
        op = faulting_operand(insn, ctx.fault_address) if insn else None
        facts = {**instruction_facts(insn, op, ctx.registers), **proof}
        facts["address"] = hexa(ctx.fault_address)
        freed = not str(proof.get("chunk_state", "")).startswith("not ")
        verdict.add("use-after-free", facts, 1.0 if freed else 0.8)


# Where glibc's free path keeps the block: (function, variable, offset to the user pointer).
# `_int_free`'s and `munmap_chunk`'s `p` is the chunk (the header, 0x10 before the user pointer).
_FREE_ARGS = [
    ("_int_free", "p", 0x10),
    ("munmap_chunk", "p", 0x10),
    ("__libc_free", "mem", 0),
    ("free", "mem", 0),
]


def block_being_freed(ctx: Context) -> tuple[int, str] | None:
    """The user pointer glibc's free path was releasing and the variable that says so."""
    for frame in ctx.frames:
        function = str(frame.get("function") or "")
        for name, var_name, offset in _FREE_ARGS:
            if not function.endswith(name):
                continue
            for var in frame.get("variables") or []:
                value = var.get("value") if isinstance(var, dict) else None
                if var.get("name") == var_name and isinstance(value, int) and value:
                    return value + offset, f"{function}'s `{var_name}`"
    return None


def freed_block(ctx: Context) -> dict[str, Any] | None:
    """For an abort inside free(): the block being freed and whether the heap already has it."""
    found = block_being_freed(ctx)
    if found is None:
        return None
    state = heap_state(ctx)
    where = state.free_state(found[0]) if state is not None else None
    return {"block": hexa(found[0]), "already_free_in": where}
