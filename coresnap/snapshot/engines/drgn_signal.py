"""Signal trampolines in drgn's stack traces: found, named like gdb, and unwound through where
drgn cannot.

The kernel calls a signal handler with the trampoline as its return address (glibc's and
musl's ``__restore_rt``, Go's ``runtime.sigreturn__sigaction``, the vDSO's
``__kernel_rt_sigreturn`` on arm64). gdb shows that frame as ``<signal handler called>``.
drgn unwinds through glibc's (its CFI has the ``S`` augmentation and describes the saved
context: the next frame comes back ``interrupted``), but Go's trampoline has ordinary CFI, so
drgn reads the signal frame as a call frame and walks garbage, repeating the signal path.
There we read the registers the kernel saved (``struct rt_sigframe``, see
:mod:`coresnap.unwind.sigframe`) and ask drgn for the interrupted thread's stack from them.
"""

from __future__ import annotations

import struct

import drgn

from coresnap.unwind.sigframe import TRAMPOLINES, Trampoline

SIGNAL_FRAME = "<signal handler called>"  # gdb's name for a SIGTRAMP_FRAME
_ARCHES = {drgn.Architecture.X86_64: "x86_64"}
# struct pt_regs (arch/x86/include/uapi/asm/ptrace.h, x86_64), the register set drgn's
# stack_trace() accepts as a thread's starting point.
_PT_REGS_X86_64 = (
    *("r15", "r14", "r13", "r12", "rbp", "rbx", "r11", "r10", "r9", "r8"),
    *("rax", "rcx", "rdx", "rsi", "rdi", "orig_rax", "rip", "cs", "eflags", "rsp", "ss"),
)
# Segment selectors of a 64-bit user thread (arch/x86/include/asm/segment.h: __USER_CS,
# __USER_DS); drgn does not use them, pt_regs has room for them.
_USER_SEGMENTS = {"cs": 0x33, "ss": 0x2B}


def trampoline_kind(
    prog: drgn.Program,
    frame: drgn.StackFrame,
    caller: drgn.StackFrame | None,
    seen: dict[int, bool] | None = None,
) -> str | None:
    """``"cfi"`` when drgn unwound through this signal trampoline (the caller is interrupted),
    ``"code"`` when only the code at its pc says it is one, None when it is no trampoline.
    ``seen`` keeps what the code at each pc is, for the next thread at the same place."""
    if caller is not None and caller.interrupted:
        return "cfi"
    pc = frame.pc
    found = None if seen is None else seen.get(pc)
    if found is None:
        found = _is_trampoline_code(prog, pc)
        if seen is not None:
            seen[pc] = found
    return "code" if found else None


def _is_trampoline_code(prog: drgn.Program, pc: int) -> bool:
    tramp = _trampoline(prog)
    if tramp is None:
        return False
    try:
        code = prog.read(pc, len(tramp.code))
    except (drgn.FaultError, ValueError):
        return False
    return code == tramp.code


def interrupted_trace(prog: drgn.Program, frame: drgn.StackFrame) -> drgn.StackTrace | None:
    """The stack of the code the signal interrupted, from the context the kernel saved above
    the trampoline frame ``frame``; None when it cannot be read."""
    tramp = _trampoline(prog)
    if tramp is None or tramp.arch != "x86_64":
        return None
    base = frame.sp + tramp.context
    try:
        raw = prog.read(base, 8 * len(tramp.registers))
    except (drgn.FaultError, ValueError):
        return None
    saved = dict(zip(tramp.registers, struct.unpack(f"<{len(tramp.registers)}Q", raw), strict=True))
    return trace_from_registers(prog, saved)


def trace_from_registers(prog: drgn.Program, saved: dict[str, int]) -> drgn.StackTrace | None:
    """drgn's stack trace starting from the x86-64 registers ``saved`` (others read as 0)."""
    values = {**saved, **_USER_SEGMENTS}
    regs = struct.pack(f"<{len(_PT_REGS_X86_64)}Q", *(values.get(r, 0) for r in _PT_REGS_X86_64))
    try:
        pt_regs = drgn.Object.from_bytes_(prog, prog.struct_type("pt_regs", len(regs), []), regs)
        return prog.stack_trace(pt_regs)
    except (drgn.FaultError, ValueError, LookupError):
        return None


def _trampoline(prog: drgn.Program) -> Trampoline | None:
    platform = prog.platform
    arch = _ARCHES.get(platform.arch) if platform is not None else None
    return TRAMPOLINES.get(arch) if arch is not None else None
