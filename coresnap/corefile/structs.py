"""ELF layouts and constants, named as in the gABI, ``elf.h`` and the kernel's ``elfcore.h``.

Layouts only: ``struct.Struct`` objects for both byte orders and both classes, and the numbers
the spec names. Nothing here reads a file; :mod:`coresnap.corefile.reader` does that.
"""

from __future__ import annotations

import struct
from typing import Literal

ByteOrder = Literal["<", ">"]

# e_ident (gABI "ELF Identification")
ELFMAG = b"\x7fELF"
EI_CLASS = 4
EI_DATA = 5
EI_VERSION = 6
EI_OSABI = 7
EI_NIDENT = 16
ELFCLASS32 = 1
ELFCLASS64 = 2
ELFDATA2LSB = 1
ELFDATA2MSB = 2

# e_type
ET_NONE = 0
ET_REL = 1
ET_EXEC = 2
ET_DYN = 3
ET_CORE = 4

# p_type, p_flags
PT_NULL = 0
PT_LOAD = 1
PT_DYNAMIC = 2
PT_INTERP = 3
PT_NOTE = 4
PT_PHDR = 6
PF_X = 1
PF_W = 2
PF_R = 4

# e_phnum escape: the real count is in section header 0's sh_info (gABI, "Program Header").
PN_XNUM = 0xFFFF

# e_machine
EM_SPARC = 2
EM_386 = 3
EM_68K = 4
EM_MIPS = 8
EM_PARISC = 15
EM_SPARC32PLUS = 18
EM_PPC = 20
EM_PPC64 = 21
EM_S390 = 22
EM_ARM = 40
EM_SPARCV9 = 43
EM_X86_64 = 62
EM_AARCH64 = 183
EM_RISCV = 243
EM_LOONGARCH = 258
EM_ALPHA = 0x9026

# e_flags of MIPS: n32 uses 64-bit registers in an ELFCLASS32 file.
EF_MIPS_ABI2 = 0x20

# Note types in the "CORE" / "LINUX" namespaces (include/uapi/linux/elf.h).
NT_PRSTATUS = 1
NT_FPREGSET = 2
NT_PRPSINFO = 3
NT_TASKSTRUCT = 4
NT_AUXV = 6
NT_PRXFPREG = 0x46E62B7F
NT_PPC_VMX = 0x100
NT_PPC_VSX = 0x102
NT_386_TLS = 0x200
NT_386_IOPERM = 0x201
NT_X86_XSTATE = 0x202
NT_X86_SHSTK = 0x204
NT_S390_HIGH_GPRS = 0x300
NT_S390_TIMER = 0x301
NT_S390_TODCMP = 0x302
NT_S390_TODPREG = 0x303
NT_S390_CTRS = 0x304
NT_S390_PREFIX = 0x305
NT_S390_LAST_BREAK = 0x306
NT_S390_SYSTEM_CALL = 0x307
NT_ARM_VFP = 0x400
NT_ARM_TLS = 0x401
NT_ARM_HW_BREAK = 0x402
NT_ARM_HW_WATCH = 0x403
NT_ARM_SYSTEM_CALL = 0x404
NT_ARM_SVE = 0x405
NT_ARM_PAC_MASK = 0x406
NT_ARM_TAGGED_ADDR_CTRL = 0x409
NT_ARM_PAC_ENABLED_KEYS = 0x40A
NT_ARM_SSVE = 0x40B
NT_ARM_ZA = 0x40C
NT_ARM_ZT = 0x40D
NT_ARM_FPMR = 0x40E
NT_RISCV_CSR = 0x900
NT_RISCV_VECTOR = 0x901
NT_LOONGARCH_CPUCFG = 0xA00
NT_LOONGARCH_CSR = 0xA01
NT_LOONGARCH_LSX = 0xA02
NT_LOONGARCH_LASX = 0xA03
NT_SIGINFO = 0x53494749  # "SIGI"
NT_FILE = 0x46494C45  # "FILE"
NT_GNU_BUILD_ID = 3  # in the "GNU" namespace
NT_GNU_PROPERTY_TYPE_0 = 5

CORE_NOTE_NAMES: dict[int, str] = {
    value: name
    for name, value in dict(globals()).items()
    if name.startswith("NT_") and not name.startswith("NT_GNU") and isinstance(value, int)
}

# Section header fields needed for PN_XNUM (sh_info of section 0).
SHN_UNDEF = 0


def _layouts(order: ByteOrder) -> dict[str, struct.Struct]:
    return {
        # Elf32_Ehdr / Elf64_Ehdr after e_ident: e_type, e_machine, e_version, e_entry, e_phoff,
        # e_shoff, e_flags, e_ehsize, e_phentsize, e_phnum, e_shentsize, e_shnum, e_shstrndx
        "Ehdr32": struct.Struct(order + "HHIIIIIHHHHHH"),
        "Ehdr64": struct.Struct(order + "HHIQQQIHHHHHH"),
        # Elf32_Phdr: p_type, p_offset, p_vaddr, p_paddr, p_filesz, p_memsz, p_flags, p_align
        "Phdr32": struct.Struct(order + "IIIIIIII"),
        # Elf64_Phdr: p_type, p_flags, p_offset, p_vaddr, p_paddr, p_filesz, p_memsz, p_align
        "Phdr64": struct.Struct(order + "IIQQQQQQ"),
        # Elf32_Shdr / Elf64_Shdr: sh_name, sh_type, sh_flags, sh_addr, sh_offset, sh_size,
        # sh_link, sh_info, sh_addralign, sh_entsize
        "Shdr32": struct.Struct(order + "IIIIIIIIII"),
        "Shdr64": struct.Struct(order + "IIQQQQIIQQ"),
        # Elf_Nhdr (same in both classes): n_namesz, n_descsz, n_type
        "Nhdr": struct.Struct(order + "III"),
    }


LAYOUTS: dict[ByteOrder, dict[str, struct.Struct]] = {"<": _layouts("<"), ">": _layouts(">")}

# Field order of the unpacked tuples above, so callers can name them.
EHDR_FIELDS = ("e_type", "e_machine", "e_version", "e_entry", "e_phoff", "e_shoff", "e_flags",
               "e_ehsize", "e_phentsize", "e_phnum", "e_shentsize", "e_shnum", "e_shstrndx")  # fmt: skip
PHDR32_FIELDS = ("p_type", "p_offset", "p_vaddr", "p_paddr", "p_filesz", "p_memsz", "p_flags",
                 "p_align")  # fmt: skip
PHDR64_FIELDS = ("p_type", "p_flags", "p_offset", "p_vaddr", "p_paddr", "p_filesz", "p_memsz",
                 "p_align")  # fmt: skip
SHDR_FIELDS = ("sh_name", "sh_type", "sh_flags", "sh_addr", "sh_offset", "sh_size", "sh_link",
               "sh_info", "sh_addralign", "sh_entsize")  # fmt: skip


def layout(order: ByteOrder, name: str) -> struct.Struct:
    """The ``struct.Struct`` of ``name`` ("Ehdr64", "Phdr32", "Nhdr" ...) for a byte order."""
    return LAYOUTS[order][name]
