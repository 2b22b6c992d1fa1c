"""One unwinding step: the caller's registers from the callee's, by CFI, frame pointer or
signal context.

Each function takes the callee's :class:`FrameState` and returns the caller's, or None when
the callee is the outermost frame; a step that cannot be computed raises :class:`~coresnap.errors.UnwindStepFailed`
with the stop reason.
"""

from __future__ import annotations

from collections.abc import Callable

from coresnap.errors import DwarfExpressionError, MemoryUnavailable, UnwindStepFailed
from coresnap.unwind import dwarfexpr
from coresnap.unwind.arch import Arch
from coresnap.unwind.frames import (
    STOP_BAD_RULE,
    STOP_MEMORY,
    STOP_NO_UNWIND_INFO,
    FrameState,
    How,
    MemoryReader,
)
from coresnap.unwind.rules import RegisterRule, Row


def word_reader(memory: MemoryReader, arch: Arch, byteorder: str) -> Callable[[int, int], int]:
    """``read(address, size) -> int`` over the core's memory, raising :class:`~coresnap.errors.UnwindStepFailed`."""
    order = "little" if byteorder == "<" else "big"

    def read(address: int, size: int) -> int:
        try:
            data = memory.read(address & arch.mask, size)
        except MemoryUnavailable as exc:
            raise UnwindStepFailed(f"{STOP_MEMORY}: {address & arch.mask:#x}") from exc
        return int.from_bytes(data, order)  # type: ignore[arg-type]

    return read


def step_cfi(
    state: FrameState, row: Row, arch: Arch, read: Callable[[int, int], int]
) -> FrameState | None:
    """Apply one CFI row; None if it says the return address is undefined (outermost)."""
    regs = state.regs

    def register(n: int) -> int:
        if n not in regs:
            raise UnwindStepFailed(f"{STOP_BAD_RULE}: register {n} unknown at pc {state.pc:#x}")
        return regs[n]

    def expr(code: bytes, initial: tuple[int, ...] = ()) -> int:
        try:
            return dwarfexpr.evaluate(
                code,
                address_size=arch.address_size,
                register=register,
                read_memory=read,
                initial=initial,
            )
        except DwarfExpressionError as exc:
            raise UnwindStepFailed(f"{STOP_BAD_RULE}: {exc}") from exc

    rule = row.cfa
    if rule.expression is not None:
        cfa = expr(rule.expression)
    elif rule.register is not None:
        cfa = (register(rule.register) + rule.offset) & arch.mask
    else:
        raise UnwindStepFailed(f"{STOP_BAD_RULE}: no CFA rule at pc {state.pc:#x}")

    new = {n: v for n, v in regs.items() if arch.dwarf_names.get(n) in arch.callee_saved}
    ra_col = row.return_address_column
    if ra_col not in row.registers and ra_col in regs and ra_col != arch.dwarf_number(arch.pc):
        new[ra_col] = regs[ra_col]  # AArch64 leaf functions keep the return address in x30
    for reg, reg_rule in row.registers.items():
        value = _recover(reg_rule, reg, cfa, register, read, expr, arch)
        if value is None:
            new.pop(reg, None)
        else:
            new[reg] = value
    sp = arch.dwarf_number(arch.sp)
    if sp is not None and sp not in row.registers:
        new[sp] = cfa  # the caller's stack pointer is the CFA, by definition on all three
    if ra_col not in new:
        return None
    pc = new[ra_col]
    if row.ra_signed:
        pc &= (1 << 48) - 1  # strip an AArch64 pointer-authentication code (48-bit user VA)
    if arch.dwarf_number(arch.pc) == ra_col:
        new[ra_col] = pc
    how: How = "signal" if row.signal_frame else "cfi"
    return FrameState(pc=pc, regs=new, cfa=cfa, how=how, exact_pc=row.signal_frame)


def _recover(
    rule: RegisterRule,
    reg: int,
    cfa: int,
    register: Callable[[int], int],
    read: Callable[[int, int], int],
    expr: Callable[..., int],
    arch: Arch,
) -> int | None:
    """The caller's value of one register under ``rule``; None when undefined."""
    size = arch.address_size
    if rule.kind == "undefined":
        return None
    if rule.kind == "same":
        return register(reg)
    if rule.kind == "offset":
        return read((cfa + rule.value) & arch.mask, size)
    if rule.kind == "val_offset":
        return (cfa + rule.value) & arch.mask
    if rule.kind == "register":
        return register(rule.value)
    assert rule.expression is not None
    if rule.kind == "expression":
        return read(expr(rule.expression, (cfa,)), size)
    return expr(rule.expression, (cfa,))


def step_frame_pointer(
    state: FrameState, arch: Arch, read: Callable[[int, int], int]
) -> FrameState:
    """Follow the frame-pointer chain: [fp] = caller's fp, [fp + word] = return address.

    The layout is the one both psABIs' ``push fp; mov sp, fp`` prologues (x86) and AArch64
    frame records (AAPCS64 6.2.3, x29 points at {x29, x30}) produce.
    """
    fp_n, sp_n = arch.dwarf_number(arch.fp), arch.dwarf_number(arch.sp)
    assert fp_n is not None and sp_n is not None
    fp, sp = state.regs.get(fp_n), state.regs.get(sp_n)
    word = arch.address_size
    if not fp or fp % word or (sp is not None and fp < sp):
        raise UnwindStepFailed(f"{STOP_NO_UNWIND_INFO}: pc {state.pc:#x}, no usable frame pointer")
    new = {n: v for n, v in state.regs.items() if arch.dwarf_names.get(n) in arch.callee_saved}
    new[fp_n] = read(fp, word)
    new[sp_n] = fp + 2 * word
    pc = read(fp + word, word)
    return _guessed(arch, new, pc, fp + 2 * word)


def step_return_address(
    state: FrameState, arch: Arch, read: Callable[[int, int], int]
) -> FrameState:
    """The top frame jumped somewhere without code (a call through a bad pointer): the
    return address is where a call left it, at [sp] on x86 or in the link register on AArch64.
    """
    sp_n = arch.dwarf_number(arch.sp)
    assert sp_n is not None
    sp = state.regs.get(sp_n)
    if sp is None:
        raise UnwindStepFailed(f"{STOP_NO_UNWIND_INFO}: pc {state.pc:#x}, no stack pointer")
    new = {n: v for n, v in state.regs.items() if arch.dwarf_names.get(n) in arch.callee_saved}
    if arch.name == "aarch64":
        pc = state.regs.get(30)
        if pc is None:
            raise UnwindStepFailed(f"{STOP_NO_UNWIND_INFO}: pc {state.pc:#x}, no link register")
        return _guessed(arch, new, pc, sp)
    pc = read(sp, arch.address_size)
    new[sp_n] = sp + arch.address_size
    return _guessed(arch, new, pc, sp + arch.address_size)


def _guessed(arch: Arch, regs: dict[int, int], pc: int, cfa: int) -> FrameState:
    pc_n = arch.dwarf_number(arch.pc)
    if pc_n is not None:
        regs[pc_n] = pc
    return FrameState(pc=pc, regs=regs, cfa=cfa, how="fp", trusted=False, exact_pc=False)
