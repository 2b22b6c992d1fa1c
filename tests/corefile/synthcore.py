"""A small builder of ELF core files for bad-input tests and fuzzing: any class, byte order,
notes, PT_LOADs, and deliberate lies (e_phnum, e_type, PN_XNUM without a section header)."""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

ET_CORE, ET_EXEC = 4, 2
PT_LOAD, PT_NOTE = 1, 4
EM_X86_64, EM_PPC64, EM_PPC, EM_386 = 62, 21, 20, 3


@dataclass
class Load:
    vaddr: int
    data: bytes
    memsz: int | None = None
    flags: int = 4 | 2  # PF_R | PF_W


@dataclass
class SynthCore:
    elfclass: int = 64
    order: str = "<"
    machine: int = EM_X86_64
    e_type: int = ET_CORE
    notes: list[tuple[str, int, bytes]] = field(default_factory=list)
    loads: list[Load] = field(default_factory=list)
    note_align: int = 4
    e_phnum: int | None = None  # lie about the count
    pn_xnum: bool = False  # e_phnum = 0xffff, real count in section header 0's sh_info
    section_header: bool = True  # with pn_xnum: False leaves e_shoff 0

    def note_bytes(self) -> bytes:
        out = b""
        a = self.note_align
        for name, n_type, desc in self.notes:
            raw = name.encode() + b"\0" if name else b""
            head = struct.pack(self.order + "III", len(raw), len(desc), n_type)
            note = head + raw
            note += b"\0" * (-len(note) % a)
            note += desc + b"\0" * (-len(desc) % a)
            out += note
        return out

    def build(self) -> bytes:
        o, w = self.order, self.elfclass
        ehsize, phentsize, shentsize = (64, 56, 64) if w == 64 else (52, 32, 40)
        count = 1 + len(self.loads)
        phoff = ehsize
        shoff = phoff + phentsize * count if self.pn_xnum and self.section_header else 0
        data_at = phoff + phentsize * count + (shentsize if shoff else 0)
        notes = self.note_bytes()
        body = notes
        phdrs = [(PT_NOTE, data_at, 0, len(notes), 0, 0, self.note_align)]
        for load in self.loads:
            body += b"\0" * (-len(body) % 16)
            phdrs.append(
                (PT_LOAD, data_at + len(body), load.vaddr, len(load.data),
                 load.memsz if load.memsz is not None else len(load.data), load.flags, 0x1000)
            )  # fmt: skip
            body += load.data
        e_phnum = 0xFFFF if self.pn_xnum else (self.e_phnum if self.e_phnum is not None else count)
        ident = b"\x7fELF" + bytes([1 if w == 32 else 2, 1 if o == "<" else 2, 1]) + bytes(9)
        fmt = "HHIQQQIHHHHHH" if w == 64 else "HHIIIIIHHHHHH"
        shnum = 1 if shoff else 0
        ehdr = ident + struct.pack(
            o + fmt, self.e_type, self.machine, 1, 0, phoff, shoff, 0, ehsize, phentsize,
            e_phnum, shentsize, shnum, 0,
        )  # fmt: skip
        table = b""
        for p_type, off, vaddr, filesz, memsz, flags, align in phdrs:
            if w == 64:
                table += struct.pack(
                    o + "IIQQQQQQ", p_type, flags, off, vaddr, 0, filesz, memsz, align
                )
            else:
                table += struct.pack(
                    o + "IIIIIIII", p_type, off, vaddr, 0, filesz, memsz, flags, align
                )
        sh = b""
        if shoff:
            sfmt = "IIQQQQIIQQ" if w == 64 else "IIIIIIIIII"
            sh = struct.pack(o + sfmt, 0, 0, 0, 0, 0, 0, 0, count, 0, 0)
        return ehdr + table + sh + body


def prstatus(order: str = "<", *, pid: int = 1234, cursig: int = 11, regs: int = 27,
             reg_width: int = 8, elfclass: int = 64) -> bytes:  # fmt: skip
    """An elf_prstatus with registers 0x1000 + i and pr_fpvalid 1."""
    w = 8 if elfclass == 64 else 4
    head = struct.pack(order + "iiih", cursig, 0, 0, cursig) + b"\0" * (16 - 14)
    head += struct.pack(order + ("QQ" if w == 8 else "II"), 0, 0)
    head += struct.pack(order + "iiii", pid, 1, pid, 1)
    head += b"\0" * (8 * w)
    regs_raw = b"".join(
        struct.pack(order + ("Q" if reg_width == 8 else "I"), 0x1000 + i) for i in range(regs)
    )
    return head + regs_raw + struct.pack(order + "i", 1) + b"\0" * 4


def siginfo(order: str = "<", *, signo: int = 11, code: int = 1, addr: int = 0xDEAD) -> bytes:
    return (
        struct.pack(order + "iiii", signo, 0, code, 0) + struct.pack(order + "Q", addr) + bytes(104)
    )
