"""Linux ``elf_gregset_t`` layouts (``pr_reg`` of ``NT_PRSTATUS``) by architecture.

Each layout is the register names in the order the kernel's ``ELF_CORE_COPY_REGS`` /
``user_regs_struct`` stores them, with each slot's width. Names starting with ``_`` are padding.
Architectures without a layout here keep ``pr_reg`` raw.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass


@dataclass(frozen=True)
class RegisterLayout:
    slots: tuple[tuple[str, int], ...]  # (name, width in bytes)
    pc: str
    sp: str

    @property
    def size(self) -> int:
        return sum(width for _, width in self.slots)

    def decode(self, data: bytes, order: str) -> dict[str, int]:
        """Registers by name from the start of ``data`` (which must hold ``size`` bytes)."""
        codes = "".join({2: "H", 4: "I", 8: "Q"}[w] for _, w in self.slots)
        values = struct.unpack_from(order + codes, data, 0)
        return {name: v for (name, _), v in zip(self.slots, values, strict=True) if name[0] != "_"}


def _same(width: int, names: str) -> tuple[tuple[str, int], ...]:
    return tuple((n, width) for n in names.split())


def _numbered(prefix: str, count: int) -> str:
    return " ".join(f"{prefix}{i}" for i in range(count))


# arch/x86/include/asm/user_64.h, struct user_regs_struct
_X86_64 = (
    "r15 r14 r13 r12 rbp rbx r11 r10 r9 r8 rax rcx rdx rsi rdi orig_rax rip cs eflags rsp ss "
    "fs_base gs_base ds es fs gs"
)
# arch/x86/include/asm/user_32.h, struct user_regs_struct
_I386 = "ebx ecx edx esi edi ebp eax ds es fs gs orig_eax eip cs eflags esp ss"
# arch/powerpc/include/uapi/asm/ptrace.h, struct pt_regs (ELF_NGREG = 48)
_PPC = (
    _numbered("r", 32)
    + " nip msr orig_gpr3 ctr link xer ccr softe trap dar dsisr result _p0 _p1 _p2 _p3"
)
# arch/riscv/include/uapi/asm/ptrace.h, struct user_regs_struct
_RISCV = (
    "pc ra sp gp tp t0 t1 t2 s0 s1 a0 a1 a2 a3 a4 a5 a6 a7 s2 s3 s4 s5 s6 s7 s8 s9 s10 s11 "
    "t3 t4 t5 t6"
)
# arch/mips/include/asm/reg.h: EF_R0.. EF_CP0_CAUSE (o32 has six padding words first)
_MIPS = _numbered("r", 32) + " lo hi cp0_epc cp0_badvaddr cp0_status cp0_cause"


def _s390(wide: int) -> tuple[tuple[str, int], ...]:
    # arch/s390/include/uapi/asm/ptrace.h, s390_regs: psw, gprs, acrs (always 32-bit), orig_gpr2
    return (
        _same(wide, "psw_mask psw_addr")
        + _same(wide, _numbered("r", 16))
        + _same(4, _numbered("a", 16))
        + _same(wide, "orig_gpr2")
    )


LAYOUTS: dict[str, RegisterLayout] = {
    "x86_64": RegisterLayout(_same(8, _X86_64), "rip", "rsp"),
    "x32": RegisterLayout(_same(8, _X86_64), "rip", "rsp"),
    "i386": RegisterLayout(_same(4, _I386), "eip", "esp"),
    "aarch64": RegisterLayout(_same(8, _numbered("x", 31) + " sp pc pstate"), "pc", "sp"),
    "arm": RegisterLayout(_same(4, _numbered("r", 16) + " cpsr orig_r0"), "r15", "r13"),
    "ppc64le": RegisterLayout(_same(8, _PPC), "nip", "r1"),
    "ppc64": RegisterLayout(_same(8, _PPC), "nip", "r1"),
    "ppc": RegisterLayout(_same(4, _PPC), "nip", "r1"),
    "s390x": RegisterLayout(_s390(8), "psw_addr", "r15"),
    "s390": RegisterLayout(_s390(4), "psw_addr", "r15"),
    "riscv64": RegisterLayout(_same(8, _RISCV), "pc", "sp"),
    "riscv32": RegisterLayout(_same(4, _RISCV), "pc", "sp"),
    "mipsel-o32": RegisterLayout(_same(4, "_0 _1 _2 _3 _4 _5 " + _MIPS), "cp0_epc", "r29"),
    "mips-o32": RegisterLayout(_same(4, "_0 _1 _2 _3 _4 _5 " + _MIPS), "cp0_epc", "r29"),
    "mips64el-n32": RegisterLayout(_same(8, _MIPS), "cp0_epc", "r29"),
    "mips64-n32": RegisterLayout(_same(8, _MIPS), "cp0_epc", "r29"),
    "mips64el-n64": RegisterLayout(_same(8, _MIPS), "cp0_epc", "r29"),
    "mips64-n64": RegisterLayout(_same(8, _MIPS), "cp0_epc", "r29"),
    # arch/m68k/include/asm/user.h, struct user_regs_struct (stkadj, sr, fmtvec are shorts)
    "m68k": RegisterLayout(
        _same(4, "d1 d2 d3 d4 d5 d6 d7 a0 a1 a2 a3 a4 a5 a6 d0 usp orig_d0")
        + _same(2, "stkadj sr")
        + _same(4, "pc")
        + _same(2, "fmtvec _fill"),
        "pc",
        "usp",
    ),
    # arch/loongarch/include/uapi/asm/ptrace.h, user_pt_regs: regs[32], orig_a0, csr_era, csr_badv
    "loongarch64": RegisterLayout(
        _same(8, _numbered("r", 32) + " orig_a0 csr_era csr_badv"), "csr_era", "r3"
    ),
}
