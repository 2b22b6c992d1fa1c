"""Where an indirect call's target was loaded from: the slot, checked against memory.

The target is read by the call itself (``call qword ptr [rbx + 8]``: the slot is the operand's
address, from the registers the call had) or by an earlier load into the call's register
(``mov rdx, qword ptr [rax + 8]`` … ``call rdx``), found by decoding the caller forward from its
symbol's start and walking back through register copies. When the load's address registers were
written again before the call, their earlier value is recomputed from the instruction that set
them (-O0 code reloads a pointer from its stack slot before each use); failing that, the one
pointer of the thread whose word at the load's displacement is the target is taken. Every slot
reported holds the target.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import capstone
from capstone import x86

from coresnap.analysis.calls import FAMILIES, Step, decode_steps, register_family
from coresnap.analysis.context import Context
from coresnap.analysis.disasm import Instruction, decode
from coresnap.analysis.rules import hexa

SWEEP = 4096  # bytes of the caller decoded before the call when its symbol's start is unknown
MAX_COPIES = 4  # register-to-register moves followed back to the load
STACK_WORDS = 64  # words at the top of the stack searched for the pointer a slot belongs to


def _sweep(ctx: Context, start: int, call: Step) -> list[Step] | None:
    """The instructions from ``start`` up to (excluding) ``call``, if decoding lands on it."""
    code = ctx.read(start, call.address - start)
    if code is None:
        return None
    steps = decode_steps(code, start)
    if not steps or steps[-1].address + steps[-1].size != call.address:
        return None
    return steps


def _before(ctx: Context, call: Step) -> list[Step]:
    """The caller's instructions before ``call``: from the symbol's start, else a sweep that
    resynchronises on the call (x86 decoding converges within a few instructions)."""
    found = ctx.symbol_at(call.address)
    if found is not None and 0 < call.address - found[1] <= 1 << 16:
        steps = _sweep(ctx, found[1], call)
        if steps:
            return steps
    for shift in range(16):
        start = max(call.address - SWEEP + shift, 0)
        steps = _sweep(ctx, start, call) if start < call.address else None
        if steps:
            return steps
    return []


@dataclass
class Load:
    """Where the call's register got the target: the load instruction, its index among the
    caller's instructions, its address registers written since, the register copies after it."""

    step: Step
    index: int
    changed: set[str]
    copies: list[str]


def _stores(step: Step) -> bool:
    return any(
        op.type == x86.X86_OP_MEM and op.access & capstone.CS_AC_WRITE for op in step.operands
    )


def _earlier_value(
    ctx: Context, steps: list[Step], load: int, register: str, regs: dict[str, int]
) -> int | None:
    """The value ``register`` had at ``steps[load]``, recomputed from the instruction that set
    it before (``mov rax, qword ptr [rbp - 8]``: -O0 code reloads a pointer from its stack slot
    before each use) when neither that slot's address registers nor memory changed since."""
    for j in range(load - 1, -1, -1):
        step = steps[j]
        if register not in step.writes:
            continue
        ops = step.operands
        if step.mnemonic != "mov" or len(ops) != 2 or ops[1].type != x86.X86_OP_MEM:
            return None
        used = {register_family(step, r) for r in (ops[1].mem.base, ops[1].mem.index) if r} - {
            "rip"
        }
        after = steps[j + 1 :]
        if (
            register in used
            or used & set().union(*(s.writes for s in after))
            or any(map(_stores, after))
        ):
            return None
        insn = decode(bytes(step.insn.bytes), step.address, regs)
        address = insn.memory[0].address if insn and insn.memory else None
        return ctx.word(address) if address is not None else None
    return None


def _find_load(steps: list[Step], register: str) -> Load | None:
    copies: list[str] = []
    for i in range(len(steps) - 1, -1, -1):
        step = steps[i]
        if register not in step.writes:
            continue
        ops = step.operands
        if step.mnemonic != "mov" or len(ops) != 2 or ops[0].type != x86.X86_OP_REG:
            return None  # computed (lea, arithmetic, a call's result): no slot to point at
        if ops[1].type == x86.X86_OP_REG and len(copies) < MAX_COPIES:
            copies.append(step.text)
            register = register_family(step, ops[1].reg)
            continue
        if ops[1].type != x86.X86_OP_MEM:
            return None
        used = {register_family(step, r) for r in (ops[1].mem.base, ops[1].mem.index) if r} - {
            "rip"
        }
        changed = used & set().union(*(s.writes for s in steps[i:]))  # the load itself included
        return Load(step, i, changed, copies)
    return None


def _load_slot(
    ctx: Context, steps: list[Step], found: Load, regs: dict[str, int]
) -> Instruction | None:
    """The load decoded with the registers it had: the current ones, with any address register
    changed since recomputed (:func:`_earlier_value`)."""
    then = dict(regs)
    for register in found.changed:
        value = _earlier_value(ctx, steps, found.index, register, regs)
        if value is None:
            return None
        then[register] = value
    return decode(bytes(found.step.insn.bytes), found.step.address, then)


def target_slot(ctx: Context, branch: Step, target: int, pushed: bool) -> dict[str, Any] | None:
    """Where ``target`` was loaded from: ``{slot, how, instruction, load?}``, checked against
    memory, or None. ``pushed``: the call completed and pushed its return address (sp moved)."""
    regs = dict(ctx.registers)
    if pushed and "rsp" in regs:
        regs["rsp"] += 8  # the registers as they were at the call
    operand = branch.operands[0]
    slot: int | None
    if operand.type == x86.X86_OP_MEM:
        insn = decode(bytes(branch.insn.bytes), branch.address, regs)
        op = insn.memory[0] if insn and insn.memory else None
        if op is None or op.address is None:
            return None
        slot, how, load = op.address, f"the call's operand {op.text}", insn
    else:
        register = FAMILIES.get(branch.insn.reg_name(operand.reg), "")
        steps = _before(ctx, branch)
        found = _find_load(steps, register)
        if found is None:
            return None
        load = _load_slot(ctx, steps, found, regs)
        if load is None or not load.memory:  # not recomputable: find the pointer instead
            load = decode(bytes(found.step.insn.bytes), found.step.address, regs)
            op = load.memory[0] if load and load.memory else None
            slot = _slot_from_pointers(ctx, op.disp, target) if op else None
        else:
            op = load.memory[0]
            slot = op.address
        how = f"{register} was loaded by `{found.step.text}` at {hexa(found.step.address)}"
        if found.copies:
            how += " (then " + "; ".join(reversed(found.copies)) + ")"
    if slot is None or ctx.word(slot) != target:
        return None
    return {"slot": slot, "how": how, "load": load}


def _slot_from_pointers(ctx: Context, disp: int, target: int) -> int | None:
    """The load's base register changed after it: the one pointer among the registers, the
    innermost frames' variables and the words at the top of the stack whose word at ``disp``
    is the target (None when it is not unique, or when the target is NULL: too many words are
    zero to tell)."""
    values: set[int] = set(ctx.registers.values())
    for frame in ctx.frames[:3]:
        for var in frame.get("variables") or []:
            value = var.get("value") if isinstance(var, dict) else None
            if isinstance(value, int) and not isinstance(value, bool):
                values.add(value)
    sp = ctx.sp
    data = (ctx.read(sp, 8 * STACK_WORDS) if sp is not None else None) or b""
    values.update(int.from_bytes(data[i : i + 8], "little") for i in range(0, len(data) - 7, 8))
    slots = {v + disp for v in values if v > 0x10000 and ctx.word(v + disp) == target}
    return slots.pop() if target and len(slots) == 1 else None


def as_facts(branch: Step, found: dict[str, Any]) -> dict[str, Any]:
    """The call and its slot as evidence a developer can check in a debugger."""
    facts: dict[str, Any] = {
        "call_instruction": branch.text,
        "call_address": hexa(branch.address),
        "target_slot": hexa(found["slot"]),
        "target_loaded_by": found["how"],
    }
    load: Instruction | None = found.get("load")
    if load is not None and load.memory and load.memory[0].base not in (None, "rip"):
        facts["slot_base_register"] = load.memory[0].base
    return facts
