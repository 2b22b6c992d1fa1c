"""Execute a CIE's and an FDE's DW_CFA_* instructions up to one address, giving one row.

A row of the call frame table (DWARF 5, section 6.4.1) says how to compute the CFA and how
to recover each register of the caller. We run the instructions ourselves rather than use
pyelftools' ``get_decoded()``: that one builds the whole table, stops at
``DW_CFA_GNU_args_size`` and mis-scales ``DW_CFA_def_cfa_sf``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Literal

from elftools.dwarf.callframe import CallFrameInstruction
from elftools.dwarf.constants import DW_CFA

from coresnap.unwind.cfi import FrameEntry

RuleKind = Literal[
    "undefined", "same", "offset", "val_offset", "register", "expression", "val_expression"
]


@dataclass(frozen=True)
class CfaRule:
    """CFA = register + offset, or the value of ``expression``."""

    register: int | None = None
    offset: int = 0
    expression: bytes | None = None


@dataclass(frozen=True)
class RegisterRule:
    """How to recover one register of the caller (DWARF 5, section 6.4.1 "register rules")."""

    kind: RuleKind
    value: int = 0  # offset (offset/val_offset) or register number (register)
    expression: bytes | None = None


@dataclass
class Row:
    """The rules in force at one address."""

    address: int
    cfa: CfaRule
    registers: dict[int, RegisterRule] = field(default_factory=dict)
    return_address_column: int = 0
    signal_frame: bool = False
    ra_signed: bool = False  # AArch64 pointer authentication (DW_CFA_AARCH64_negate_ra_state)


def row_at(entry: FrameEntry, address: int) -> Row:
    """The row of ``entry``'s table that applies at link-time ``address``."""
    cie = entry.cie
    initial = Row(
        address=entry.start,
        cfa=CfaRule(),
        return_address_column=cie["return_address_register"],
        signal_frame=entry.signal_frame,
    )
    _execute(cie.instructions, initial, cie, None, None)
    row = replace(initial, registers=dict(initial.registers))
    _execute(entry.fde.instructions, row, cie, initial, address)
    return row


def _execute(
    instructions: list[CallFrameInstruction],
    row: Row,
    cie: object,
    initial: Row | None,
    stop_at: int | None,
) -> None:
    """Apply ``instructions`` to ``row`` in place, stopping once the location passes stop_at."""
    caf = cie["code_alignment_factor"]  # type: ignore[index]
    daf = cie["data_alignment_factor"]  # type: ignore[index]
    stack: list[tuple[CfaRule, dict[int, RegisterRule], bool]] = []
    for ins in instructions:
        op, args = ins.opcode, ins.args
        if op in (
            DW_CFA.advance_loc,
            DW_CFA.advance_loc1,
            DW_CFA.advance_loc2,
            DW_CFA.advance_loc4,
        ):
            new = row.address + args[0] * caf
        elif op == DW_CFA.set_loc:
            new = args[0]
        else:
            new = None
        if new is not None:
            if stop_at is not None and new > stop_at:
                return
            row.address = new
        elif op == DW_CFA.remember_state:
            stack.append((row.cfa, dict(row.registers), row.ra_signed))
        elif op == DW_CFA.restore_state:
            if stack:
                row.cfa, row.registers, row.ra_signed = stack.pop()
        elif op in (DW_CFA.restore, DW_CFA.restore_extended):
            _restore(row, initial, args[0])
        else:
            _apply(op, args, row, daf)


def _restore(row: Row, initial: Row | None, reg: int) -> None:
    rule = initial.registers.get(reg) if initial else None
    if rule is None:
        row.registers.pop(reg, None)
    else:
        row.registers[reg] = rule


def _apply(op: int, args: list, row: Row, daf: int) -> None:
    """One instruction that changes the CFA rule or a register rule."""
    cfa = row.cfa
    if op == DW_CFA.def_cfa:
        row.cfa = CfaRule(args[0], args[1])
    elif op == DW_CFA.def_cfa_sf:
        row.cfa = CfaRule(args[0], args[1] * daf)
    elif op == DW_CFA.def_cfa_register:
        row.cfa = CfaRule(args[0], cfa.offset)
    elif op == DW_CFA.def_cfa_offset:
        row.cfa = CfaRule(cfa.register, args[0])
    elif op == DW_CFA.def_cfa_offset_sf:
        row.cfa = CfaRule(cfa.register, args[0] * daf)
    elif op == DW_CFA.def_cfa_expression:
        row.cfa = CfaRule(expression=bytes(args[0]))
    elif op == DW_CFA.undefined:
        row.registers[args[0]] = RegisterRule("undefined")
    elif op == DW_CFA.same_value:
        row.registers[args[0]] = RegisterRule("same")
    elif op in (DW_CFA.offset, DW_CFA.offset_extended, DW_CFA.offset_extended_sf):
        row.registers[args[0]] = RegisterRule("offset", args[1] * daf)
    elif op in (DW_CFA.val_offset, DW_CFA.val_offset_sf):
        row.registers[args[0]] = RegisterRule("val_offset", args[1] * daf)
    elif op == DW_CFA.register:
        row.registers[args[0]] = RegisterRule("register", args[1])
    elif op == DW_CFA.expression:
        row.registers[args[0]] = RegisterRule("expression", expression=bytes(args[1]))
    elif op == DW_CFA.val_expression:
        row.registers[args[0]] = RegisterRule("val_expression", expression=bytes(args[1]))
    elif op == DW_CFA.AARCH64_negate_ra_state:
        row.ra_signed = not row.ra_signed
    # DW_CFA_nop and DW_CFA_GNU_args_size change no rule.
