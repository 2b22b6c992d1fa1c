"""DWARF register numbers of each architecture, mapped to the core model's register names.

The numbering is the one each psABI gives for DWARF (``.eh_frame``/``.debug_frame`` columns
and ``DW_OP_breg<n>``); the names are the ones the core reader puts in ``Thread.registers``
(Linux ``user_regs_struct`` field names, NetBSD/FreeBSD ``struct reg`` folded to the same).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Arch:
    """What the unwinder needs to know about one architecture."""

    name: str
    address_size: int  # bytes
    dwarf_names: dict[int, str]  # DWARF register number -> model register name
    pc: str  # model name of the program counter
    sp: str  # model name of the stack pointer (equal to the caller's CFA on all three)
    fp: str  # model name of the frame pointer (frame-pointer fallback)
    return_address_column: int  # default RA column; a CIE may name another one
    callee_saved: frozenset[str] = field(default_factory=frozenset)
    # Registers whose value survives a call when the CFI says nothing: the psABI's
    # callee-saved set. Others are unknown in the caller (gdb treats them the same way).

    def dwarf_number(self, name: str) -> int | None:
        for number, reg in self.dwarf_names.items():
            if reg == name:
                return number
        return None

    @property
    def mask(self) -> int:
        return (1 << (8 * self.address_size)) - 1


# System V AMD64 psABI, "DWARF Register Number Mapping" (figure 3.36): 16 is the return address.
X86_64 = Arch(
    name="x86_64",
    address_size=8,
    dwarf_names={
        0: "rax",
        1: "rdx",
        2: "rcx",
        3: "rbx",
        4: "rsi",
        5: "rdi",
        6: "rbp",
        7: "rsp",
        **{n: f"r{n}" for n in range(8, 16)},
        16: "rip",
    },
    pc="rip",
    sp="rsp",
    fp="rbp",
    return_address_column=16,
    callee_saved=frozenset({"rbx", "rbp", "r12", "r13", "r14", "r15"}),
)

# i386 psABI (SysV intel386 supplement, table 2.14): 8 is the return address (eip).
I386 = Arch(
    name="i386",
    address_size=4,
    dwarf_names={
        0: "eax",
        1: "ecx",
        2: "edx",
        3: "ebx",
        4: "esp",
        5: "ebp",
        6: "esi",
        7: "edi",
        8: "eip",
    },
    pc="eip",
    sp="esp",
    fp="ebp",
    return_address_column=8,
    callee_saved=frozenset({"ebx", "ebp", "esi", "edi"}),
)

# AADWARF64 ("DWARF for the Arm 64-bit Architecture"), table 2: x0..x30 = 0..30, sp = 31.
# The return address lives in x30 (LR); pc has no DWARF number, the RA column stands for it.
AARCH64 = Arch(
    name="aarch64",
    address_size=8,
    dwarf_names={**{n: f"x{n}" for n in range(31)}, 31: "sp"},
    pc="pc",
    sp="sp",
    fp="x29",
    return_address_column=30,
    callee_saved=frozenset({*(f"x{n}" for n in range(19, 31)), "sp"}),
)

ARCHES: dict[str, Arch] = {a.name: a for a in (X86_64, I386, AARCH64)}


def arch_for(name: str) -> Arch | None:
    """The :class:`Arch` for a core's ``ident.arch`` name, or None if the unwinder lacks it."""
    return ARCHES.get(name)
