"""The faulting instruction: what it is, and whether it reads, writes or executes memory.

x86-64 signals do not say whether a fault was a read or a write (the page-fault error code stays
in the kernel's signal frame, not in the core), so the access kind is recovered by decoding the
instruction at the pc with capstone and matching its memory operands' effective addresses
(computed from the registers) against the fault address.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import capstone
from capstone import x86

MAX_INSN = 15  # the longest x86 instruction (Intel SDM vol. 2, 2.3.11)

# Instructions that touch the stack implicitly: a fault on them is a write to [rsp - 8].
_PUSHES = {"push", "call", "pushf", "pushfq", "enter"}
_POPS = {"pop", "ret", "popf", "popfq", "leave"}


@dataclass
class Operand:
    """A memory operand: its text, the registers forming the address, the address it computes."""

    text: str
    base: str | None
    index: str | None
    scale: int
    disp: int
    address: int | None
    reads: bool
    writes: bool


@dataclass
class Instruction:
    address: int
    bytes: str  # hex
    text: str  # "mov byte ptr [rax], 0x30"
    mnemonic: str
    memory: list[Operand] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _reg(insn: Any, reg_id: int) -> str | None:
    return insn.reg_name(reg_id) if reg_id else None


def _effective(op: Any, insn: Any, registers: dict[str, int]) -> int | None:
    mem = op.mem
    base, index = _reg(insn, mem.base), _reg(insn, mem.index)
    if mem.segment and _reg(insn, mem.segment) in ("fs", "gs"):
        seg = registers.get(f"{_reg(insn, mem.segment)}.base")
        if seg is None:
            return None
    else:
        seg = 0
    total = seg + mem.disp
    if base == "rip":
        total += insn.address + insn.size
    elif base:
        if base not in registers:
            return None
        total += registers[base]
    if index:
        if index not in registers:
            return None
        total += registers[index] * mem.scale
    return total & (0xFFFFFFFFFFFFFFFF if "rip" in registers else 0xFFFFFFFF)


# Which decoder an architecture needs, told apart by its program counter's register name.
MODES = {"rip": capstone.CS_MODE_64, "eip": capstone.CS_MODE_32}


def arch_mode(registers: dict[str, int]) -> int | None:
    """The capstone x86 mode for these registers, or None: no decoder for this architecture."""
    return next((mode for pc, mode in MODES.items() if pc in registers), None)


def decode(code: bytes, address: int, registers: dict[str, int]) -> Instruction | None:
    """Decode the first x86 instruction of ``code`` at ``address``; None if undecodable or the
    registers are not x86 (x86-64 when they have ``rip``, i386 when ``eip``)."""
    mode = arch_mode(registers)
    if mode is None:
        return None
    md = capstone.Cs(capstone.CS_ARCH_X86, mode)
    md.detail = True
    insn = next(md.disasm(code, address, 1), None)
    if insn is None:
        return None
    ops = []
    for op in insn.operands:
        if op.type != x86.X86_OP_MEM:
            continue
        ops.append(_operand(insn, op, registers))
    text = f"{insn.mnemonic} {insn.op_str}".strip()
    return Instruction(address, bytes(insn.bytes).hex(), text, insn.mnemonic, ops)


def _operand(insn: Any, op: Any, registers: dict[str, int]) -> Operand:
    base, index = _reg(insn, op.mem.base), _reg(insn, op.mem.index)
    parts = [p for p in (base, f"{index}*{op.mem.scale}" if index else None) if p]
    disp = op.mem.disp
    if disp or not parts:
        parts.append(f"{disp:#x}" if not parts or disp > 0 else f"- {-disp:#x}")
    text = "[" + " + ".join(parts).replace("+ -", "-") + "]"
    return Operand(
        text=text,
        base=base,
        index=index,
        scale=op.mem.scale,
        disp=disp,
        address=_effective(op, insn, registers),
        reads=bool(op.access & capstone.CS_AC_READ),
        writes=bool(op.access & capstone.CS_AC_WRITE),
    )


def faulting_operand(insn: Instruction, fault: int | None) -> Operand | None:
    """The memory operand whose access covers ``fault`` (within one page: the access may span)."""
    if not insn.memory:
        return None
    if fault is None:
        return insn.memory[0]
    for op in insn.memory:
        if op.address is not None and op.address <= fault < op.address + 4096:
            return op
    return insn.memory[0] if len(insn.memory) == 1 else None


def access_kind(insn: Instruction, fault: int | None, pc: int | None, si_code_name: str | None):
    """``memory.read``/``memory.write``/``memory.exec`` and why, or (None, reason)."""
    if fault is not None and pc is not None and fault == pc:
        return "memory.exec", "the fault address is the pc itself"
    op = faulting_operand(insn, fault)
    if op is None:
        if insn.mnemonic in _PUSHES:
            return "memory.write", f"`{insn.mnemonic}` writes the return address/value to the stack"
        if insn.mnemonic in _POPS:
            return "memory.read", f"`{insn.mnemonic}` reads from the stack"
        return None, f"no memory operand of `{insn.text}` matches the fault address"
    if op.writes and not op.reads:
        return "memory.write", f"`{insn.text}` stores to {op.text}"
    if op.reads and not op.writes:
        return "memory.read", f"`{insn.text}` loads from {op.text}"
    # Read-modify-write: an unmapped page faults on the read; a read-only page on the write.
    if si_code_name == "SEGV_ACCERR":
        return "memory.write", f"`{insn.text}` modifies a page it may read but not write"
    return "memory.read", f"`{insn.text}` reads {op.text} before it writes it"
