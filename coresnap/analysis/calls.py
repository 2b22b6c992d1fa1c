"""The indirect call that sent the pc to a bad address, and the memory its target came from.

A call through a function pointer either reaches the bad target (the pc is the target and the
return address the call pushed is at sp) or, when the target is non-canonical, faults on the call
itself with a general protection fault (the pc is the call; Intel SDM vol. 1, 3.3.7.1: a branch
to a non-canonical address raises #GP before it completes). Either way the registers are those of
the call. The target is read from memory by the call (``call qword ptr [rbx + 8]``) or by an
earlier load into the call's register (``mov rdx, qword ptr [rax + 8]`` … ``call rdx``), found by
decoding the caller forward from its symbol's start. Every slot reported is checked: the word
stored there must be the target.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import capstone
from capstone import x86

from coresnap.analysis.context import Context
from coresnap.analysis.disasm import Instruction, decode
from coresnap.analysis.rules import hexa

MAX_CALL = 7  # ff /2 with a SIB byte and a 32-bit displacement is the longest indirect call
SWEEP = 4096  # bytes of the caller decoded before the call when its symbol's start is unknown
MAX_COPIES = 4  # register-to-register moves followed back to the load
STACK_WORDS = 64  # words at the top of the stack searched for the pointer a slot belongs to
CANONICAL_BITS = 47  # x86-64 4-level paging: bits 63..47 must all equal bit 47

# The 64-bit register each x86-64 general-purpose register name is part of.
_FAMILIES = {
    **{f"r{n}{suffix}": f"r{n}" for n in range(8, 16) for suffix in ("", "d", "w", "b")},
    **{
        name: f"r{base}x"
        for base in "abcd"
        for name in (f"r{base}x", f"e{base}x", f"{base}x", f"{base}l", f"{base}h")
    },
    **{
        name: f"r{base}"
        for base in ("si", "di", "bp", "sp")
        for name in (f"r{base}", f"e{base}", base, f"{base}l")
    },
}


def canonical(address: int) -> bool:
    """Whether ``address`` is a canonical x86-64 address (bits 63..47 all equal)."""
    top = address >> CANONICAL_BITS
    return top in (0, (1 << (64 - CANONICAL_BITS)) - 1)


@dataclass
class Step:
    """One decoded instruction of the caller: its text and the registers it writes."""

    address: int
    size: int
    text: str
    mnemonic: str
    writes: set[str]
    operands: list[Any]
    insn: Any  # the capstone instruction


def _md() -> capstone.Cs:
    md = capstone.Cs(capstone.CS_ARCH_X86, capstone.CS_MODE_64)
    md.detail = True
    return md


def _step(insn: Any) -> Step:
    _, written = insn.regs_access()
    writes = {_FAMILIES.get(insn.reg_name(r), insn.reg_name(r)) for r in written}
    text = f"{insn.mnemonic} {insn.op_str}".strip()
    return Step(insn.address, insn.size, text, insn.mnemonic, writes, list(insn.operands), insn)


def _is_indirect_call(step: Step) -> bool:
    return (
        step.mnemonic == "call" and bool(step.operands) and step.operands[0].type != x86.X86_OP_IMM
    )


def steps_to(ctx: Context, ret: int) -> list[Step]:
    """The instructions of the function holding ``ret - 1``, from its symbol's start to the one
    ending at ``ret`` (a return address); empty when decoding does not land on ``ret``."""
    found = ctx.symbol_at(ret - 1)
    if found is None or not 0 < ret - found[1] <= 1 << 16:
        return []
    code = ctx.read(found[1], ret - found[1])
    steps = [_step(insn) for insn in _md().disasm(code, found[1])] if code else []
    return steps if steps and steps[-1].address + steps[-1].size == ret else []


def call_before(ctx: Context, ret: int) -> Step | None:
    """The indirect call instruction that ends at return address ``ret``, or None. Decoding
    the caller from its symbol's start settles which bytes are the call; without a symbol the
    longest call that ends at ``ret`` is taken (a shorter one would drop a REX prefix)."""
    steps = steps_to(ctx, ret)
    if steps:
        return steps[-1] if _is_indirect_call(steps[-1]) else None
    for length in range(MAX_CALL, 1, -1):
        code = ctx.read(ret - length, length)
        insn = next(_md().disasm(code, ret - length, 1), None) if code else None
        if insn is not None and insn.size == length and _is_indirect_call(_step(insn)):
            return _step(insn)
    return None


def string_argument(ctx: Context, ret: int) -> tuple[int, int] | None:
    """(pointer, length) of a constant string the call ending at ``ret`` passes in rax and rbx
    (``lea rax, [rip + s]`` and ``mov ebx, n`` before the call), or None."""
    steps = steps_to(ctx, ret)
    if not steps or steps[-1].mnemonic != "call":
        return None
    pointer = length = None
    for step in reversed(steps[:-1]):
        ops = step.operands
        if "rax" in step.writes and pointer is None:
            if step.mnemonic != "lea" or ops[1].mem.base != x86.X86_REG_RIP:
                return None
            pointer = step.address + step.size + ops[1].mem.disp
        if "rbx" in step.writes and length is None:
            if step.mnemonic != "mov" or ops[1].type != x86.X86_OP_IMM:
                return None
            length = ops[1].imm
        if pointer is not None and length is not None:
            return pointer, length
    return None


def branch_at(ctx: Context, pc: int) -> Step | None:
    """The indirect call or jmp at ``pc`` (the #GP case), or None."""
    code = ctx.read(pc, 15) or ctx.read(pc, 8)
    insn = next(_md().disasm(code, pc, 1), None) if code else None
    if insn is None:
        return None
    step = _step(insn)
    if (
        step.mnemonic in ("call", "jmp")
        and step.operands
        and step.operands[0].type != x86.X86_OP_IMM
    ):
        return step
    return None


def branch_target(ctx: Context, branch: Step) -> int | None:
    """Where a branch that faulted before it completed was going: its register's value, or the
    word at its memory operand (the registers are still those of the branch)."""
    operand = branch.operands[0]
    if operand.type == x86.X86_OP_REG:
        return ctx.registers.get(_FAMILIES.get(branch.insn.reg_name(operand.reg), ""))
    insn = decode(bytes(branch.insn.bytes), branch.address, ctx.registers)
    address = insn.memory[0].address if insn and insn.memory else None
    return ctx.word(address) if address is not None else None


def _sweep(ctx: Context, start: int, call: Step) -> list[Step] | None:
    """The instructions from ``start`` up to (excluding) ``call``, if decoding lands on it."""
    code = ctx.read(start, call.address - start)
    if code is None:
        return None
    steps = [_step(insn) for insn in _md().disasm(code, start)]
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


def _family(step: Step, reg_id: int) -> str:
    name = step.insn.reg_name(reg_id)
    return _FAMILIES.get(name, name)


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
        used = {_family(step, r) for r in (ops[1].mem.base, ops[1].mem.index) if r} - {"rip"}
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
            register = _family(step, ops[1].reg)
            continue
        if ops[1].type != x86.X86_OP_MEM:
            return None
        used = {_family(step, r) for r in (ops[1].mem.base, ops[1].mem.index) if r} - {"rip"}
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
        register = _FAMILIES.get(branch.insn.reg_name(operand.reg), "")
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
