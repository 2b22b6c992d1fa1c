"""Signal frames without CFI: know the kernel's return trampoline by its code, and read the
registers the kernel saved on the stack.

With glibc the trampoline (``__restore_rt``) has CFI describing the saved context, and the
CFI path handles it. This is the fallback when that CFI is missing: the C library's file is
not available, or a libc without it. Layouts are the Linux kernel's.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from coresnap.unwind.arch import Arch
from coresnap.unwind.frames import FrameState


@dataclass(frozen=True)
class Trampoline:
    arch: str
    code: bytes  # the instructions at the trampoline's first byte
    context: int  # offset from the trampoline frame's sp to the first saved register
    registers: tuple[str, ...]  # saved registers in order, one word each
    pc: str  # which of them is the interrupted pc


# x86_64 Linux: glibc/musl __restore_rt is "mov $15, %rax; syscall" (rt_sigreturn). The handler
# returned into it, popping pretcode, so sp points at the struct ucontext of struct
# rt_sigframe (arch/x86/include/asm/sigframe.h); uc_mcontext (struct sigcontext, uapi
# asm/sigcontext.h) starts 40 bytes in: uc_flags 8 + uc_link 8 + stack_t 24.
LINUX_X86_64 = Trampoline(
    arch="x86_64",
    code=bytes.fromhex("48c7c00f0000000f05"),
    context=40,
    registers=(
        *(f"r{n}" for n in range(8, 16)),
        "rdi",
        "rsi",
        "rbp",
        "rbx",
        "rdx",
        "rax",
        "rcx",
        "rsp",
        "rip",
    ),
    pc="rip",
)

TRAMPOLINES = {t.arch: t for t in (LINUX_X86_64,)}


def trampoline_at(
    state: FrameState, arch: Arch, read: Callable[[int, int], int]
) -> Trampoline | None:
    """The trampoline whose code is at ``state.pc``, if any (memory errors mean no)."""
    tramp = TRAMPOLINES.get(arch.name)
    if tramp is None:
        return None
    try:
        code = read(state.pc, len(tramp.code))
    except Exception:  # UnwindStepFailed: the code is not readable, so it is not recognisable
        return None
    return tramp if code == int.from_bytes(tramp.code, "little") else None


def step_sigreturn(
    state: FrameState, tramp: Trampoline, arch: Arch, read: Callable[[int, int], int]
) -> FrameState:
    """The interrupted frame's registers, as the kernel saved them before the handler ran."""
    sp_n = arch.dwarf_number(arch.sp)
    assert sp_n is not None
    base = state.regs[sp_n] + tramp.context
    saved = {
        name: read(base + i * arch.address_size, arch.address_size)
        for i, name in enumerate(tramp.registers)
    }
    regs = {n: saved[name] for n, name in arch.dwarf_names.items() if name in saved}
    pc = saved[tramp.pc]
    return FrameState(pc=pc, regs=regs, cfa=base, how="signal", exact_pc=True)
