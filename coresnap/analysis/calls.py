"""The indirect call that sent the pc to a bad address, and other calls read from the caller.

A call through a function pointer either reaches the bad target (the pc is the target and the
return address the call pushed is at sp) or, when the target is non-canonical, faults on the call
itself with a general protection fault (the pc is the call; Intel SDM vol. 1, 3.3.7.1: a branch
to a non-canonical address raises #GP before it completes). Either way the registers are those of
the call. Instructions are decoded from the caller's symbol start, so the bytes before a return
address are read as the compiler laid them out. Where the target came from: :mod:`.loads`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import capstone
from capstone import x86

from coresnap.analysis.context import Context
from coresnap.analysis.disasm import decode

MAX_CALL = 7  # ff /2 with a SIB byte and a 32-bit displacement is the longest indirect call
CANONICAL_BITS = 47  # x86-64 4-level paging: bits 63..47 must all equal bit 47

# The 64-bit register each x86-64 general-purpose register name is part of.
FAMILIES = {
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


def decode_steps(code: bytes, address: int) -> list[Step]:
    """Every x86-64 instruction of ``code`` (at ``address``), until one does not decode."""
    return [_step(insn) for insn in _md().disasm(code, address)]


def register_family(step: Step, reg_id: int) -> str:
    """The 64-bit register capstone's register ``reg_id`` of ``step`` is part of."""
    name = step.insn.reg_name(reg_id)
    return FAMILIES.get(name, name)


def _md() -> capstone.Cs:
    md = capstone.Cs(capstone.CS_ARCH_X86, capstone.CS_MODE_64)
    md.detail = True
    return md


def _step(insn: Any) -> Step:
    _, written = insn.regs_access()
    writes = {FAMILIES.get(insn.reg_name(r), insn.reg_name(r)) for r in written}
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
    steps = decode_steps(code, found[1]) if code else []
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
        return ctx.registers.get(FAMILIES.get(branch.insn.reg_name(operand.reg), ""))
    insn = decode(bytes(branch.insn.bytes), branch.address, ctx.registers)
    address = insn.memory[0].address if insn and insn.memory else None
    return ctx.word(address) if address is not None else None
