"""Frames of functions that tail-called the frame below them (x86-64), as gdb shows them.

A function ending in ``jmp callee`` leaves no return address, so unwinding goes from its caller
straight to the callee. gdb rebuilds the missing frame from DWARF call-site records; drgn 0.3.0
does not. The machine code says the same thing: the caller's ``call rel32`` just before the
return address names the function it called; when that is not the callee we unwound from, and
that function contains exactly one ``jmp rel32`` to the callee, the chain is known and unique
(depth one, the common case: glibc's ``__futex_abstimed_wait_cancelable64``). Like gdb, only
modules with debug info get such frames, each named by the innermost scope at its pc (gdb
does not expand a tail-call frame into inline frames). A function that jumps to its namesake
is an ABI wrapper (Go's ``runtime.mstart0.abi0`` → ``runtime.mstart0``, cmd/link's
``.abi0`` suffix): Go writes no call-site DWARF, so gdb shows no frame for it, nor do we.
"""

from __future__ import annotations

from typing import Any

import capstone
import drgn

_CALL_REL32 = 0xE8
MAX_FUNCTION = 4096  # bytes of a function disassembled to find its tail jump


def tail_call_frames(
    prog: drgn.Program, callee_start: int, return_address: int
) -> list[dict[str, Any]]:
    """Virtual frames between a callee (entry ``callee_start``) and its caller, innermost first.

    Each is ``{pc, function, file, line, column, inline, function_start}`` (the start is the
    tail-calling function's entry); empty when there is no tail call or the chain is not unique.
    """
    if prog.platform is None or prog.platform.arch != drgn.Architecture.X86_64:
        return []
    if return_address < 5:
        return []
    try:
        code = prog.read(return_address - 5, 5)
        if code[0] != _CALL_REL32:
            return []
        target = (return_address + int.from_bytes(code[1:], "little", signed=True)) % (1 << 64)
        if target == callee_start:
            return []
        sym = prog.symbol(target)
        if (
            sym.address != target
            or not 0 < sym.size <= MAX_FUNCTION
            or not _has_debug(prog, target)
        ):
            return []
        body = prog.read(target, sym.size)
        if prog.symbol(callee_start).name == sym.name.removesuffix(".abi0"):
            return []
    except (drgn.FaultError, LookupError, ValueError, OverflowError):
        return []
    jumps = _jumps_to(body, target, callee_start)
    if len(jumps) != 1:
        return []
    return [{**_frame_at(prog, jumps[0], sym.name), "function_start": target}]


def _has_debug(prog: drgn.Program, address: int) -> bool:
    try:
        return prog.module(address).debug_file_status == drgn.ModuleFileStatus.HAVE
    except LookupError:
        return False


def _jumps_to(body: bytes, start: int, goal: int) -> list[int]:
    """Addresses just after each ``jmp goal`` in ``body`` (gdb's frame pc for a tail call)."""
    md = capstone.Cs(capstone.CS_ARCH_X86, capstone.CS_MODE_64)
    found = []
    for address, size, mnemonic, operand in md.disasm_lite(body, start):
        if mnemonic == "jmp" and operand.startswith("0x") and int(operand, 16) == goal:
            found.append(address + size)
    return found


def _frame_at(prog: drgn.Program, pc: int, symbol: str) -> dict[str, Any]:
    try:
        locations = list(prog.source_location(pc - 1))
    except LookupError:
        locations = []
    if not locations:
        return {"pc": pc, "function": symbol, "file": None, "line": None, "column": None,
                "inline": False}  # fmt: skip
    loc = locations[0]
    return {
        "pc": pc,
        "function": loc.name() or symbol,
        "file": loc.filename,
        "line": loc.line or None,
        "column": loc.column or None,
        "inline": len(locations) > 1,
    }
