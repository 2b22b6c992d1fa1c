"""The head of an ELF core read off a pipe: ELF header, program headers, notes. Stdlib only.

The kernel writes a core in one pass (fs/binfmt_elf.c ``elf_core_dump``): the ELF header, the
program headers (``PT_NOTE`` first, then one ``PT_LOAD`` per VMA), the notes, padding to a page,
then each ``PT_LOAD``'s data in program-header order. :func:`read_head` consumes the stream up to
the end of the notes and no further, so the caller can stream the data after it; it never seeks.
Only what the minicore needs is decoded from the notes: every thread's registers
(``NT_PRSTATUS``), the fault address (``NT_SIGINFO``) and the file mappings (``NT_FILE``).
Anything it does not understand raises :class:`HeadError`: the caller then keeps the whole core.
"""

from __future__ import annotations

import struct
from typing import NamedTuple

from coresnap.capture.sparse import Readable
from coresnap.errors import HeadError

# elf.h
ELFMAG = b"\x7fELF"
ELFCLASS64 = 2
ELFDATA2LSB, ELFDATA2MSB = 1, 2
ET_CORE = 4
PT_LOAD, PT_NOTE = 1, 4
PF_X, PF_W, PF_R = 1, 2, 4
PN_XNUM = 0xFFFF  # the real count is in section header 0 (written after the data)
NT_PRSTATUS, NT_FILE, NT_SIGINFO = 1, 0x46494C45, 0x53494749
EHDR_SIZE, PHDR_SIZE = 64, 56
# struct elf_prstatus (include/uapi/linux/elfcore.h) on 64-bit targets: pr_info (12), pr_cursig
# (2) + pad (2), pr_sigpend, pr_sighold (8 each), pr_pid, pr_ppid, pr_pgrp, pr_sid (4 each), four
# struct timeval (16 each): pr_reg starts at 112; pr_fpvalid (4) + pad (4) end the note.
PR_PID_OFFSET, PR_REG_OFFSET, PR_TAIL = 32, 112, 8
# Index of the stack pointer in pr_reg: x86-64 user_regs_struct (arch/x86/include/asm/user_64.h,
# rsp after rip, cs, eflags) and arm64 user_pt_regs (regs[31] is sp).
EM_X86_64, EM_AARCH64 = 62, 183
SP_INDEX = {EM_X86_64: 19, EM_AARCH64: 31}
SI_ADDR_OFFSET = 16  # siginfo_t on 64-bit: si_signo, si_errno, si_code, pad, then si_addr
MAX_PHNUM = PN_XNUM - 1
MAX_NOTES = 64 << 20  # notes are read into memory: beyond this the core is kept whole


class Phdr(NamedTuple):
    p_type: int
    p_flags: int
    p_offset: int
    p_vaddr: int
    p_paddr: int
    p_filesz: int
    p_memsz: int
    p_align: int

    @property
    def end(self) -> int:
        return self.p_vaddr + self.p_memsz


class Thread(NamedTuple):
    tid: int
    regs: tuple[int, ...]  # pr_reg, as unsigned words
    sp: int


class FileMap(NamedTuple):
    start: int
    end: int
    path: str


class Head(NamedTuple):
    """What the stream said before its data: raw bytes and what was decoded from them."""

    raw: bytes  # every byte consumed: [0, notes end)
    ehdr: bytes
    order: str  # struct byte order: "<" or ">"
    machine: int
    phdrs: list[Phdr]
    notes: bytes  # the PT_NOTE data, concatenated
    threads: list[Thread]  # the dumping thread first, as the kernel writes them
    signo: int | None  # the signal that caused the dump (NT_SIGINFO si_signo)
    fault_address: int | None
    files: list[FileMap]


def _read_to(src: Readable, buf: bytearray, size: int) -> None:
    """Grow ``buf`` with bytes of ``src`` until it holds ``size`` (raises HeadError at EOF)."""
    chunk = memoryview(bytearray(1 << 16))
    while len(buf) < size:
        n = src.readinto(chunk[: min(len(chunk), size - len(buf))])
        if not n:
            raise HeadError(len(buf), f"the stream ended before byte {size} of the head")
        buf += chunk[:n]


def read_head(src: Readable) -> Head:
    """Consume and decode the head of the core on ``src``. Raises HeadError."""
    buf = bytearray()
    _read_to(src, buf, EHDR_SIZE)
    if buf[:4] != ELFMAG or buf[4] != ELFCLASS64 or buf[5] not in (ELFDATA2LSB, ELFDATA2MSB):
        raise HeadError(0, "not a 64-bit ELF file")
    order = "<" if buf[5] == ELFDATA2LSB else ">"
    e_type, e_machine = struct.unpack_from(order + "HH", buf, 16)
    (e_phoff,) = struct.unpack_from(order + "Q", buf, 32)
    e_phentsize, e_phnum = struct.unpack_from(order + "HH", buf, 54)
    if e_type != ET_CORE:
        raise HeadError(16, f"ELF type {e_type}, not ET_CORE")
    if e_phnum > MAX_PHNUM or e_phentsize != PHDR_SIZE or e_phoff < EHDR_SIZE:
        raise HeadError(56, f"program headers not as the kernel writes them (e_phnum {e_phnum})")
    _read_to(src, buf, e_phoff + e_phnum * PHDR_SIZE)
    phdrs = [Phdr(*struct.unpack_from(order + "IIQQQQQQ", buf, e_phoff + i * PHDR_SIZE))
             for i in range(e_phnum)]  # fmt: skip
    notes = [p for p in phdrs if p.p_type == PT_NOTE]
    if not notes or sum(p.p_filesz for p in notes) > MAX_NOTES:
        raise HeadError(e_phoff, "no PT_NOTE, or notes too big to hold")
    notes_end = max(p.p_offset + p.p_filesz for p in notes)
    if min(p.p_offset for p in notes) < e_phoff + e_phnum * PHDR_SIZE:
        raise HeadError(e_phoff, "notes before the end of the program headers")
    _read_to(src, buf, notes_end)
    raw = bytes(buf)
    note_bytes = b"".join(raw[p.p_offset : p.p_offset + p.p_filesz] for p in notes)
    threads, siginfo, files = _decode_notes(note_bytes, order, e_machine)
    signo, fault = siginfo if siginfo else (None, None)
    return Head(raw, raw[:EHDR_SIZE], order, e_machine, phdrs, note_bytes, threads, signo, fault,
                files)  # fmt: skip


def iter_notes(data: bytes, order: str) -> list[tuple[bytes, int, bytes]]:
    """``(name, n_type, desc)`` of each note in ``data`` (4-byte aligned, as Linux writes them)."""
    out, at = [], 0
    while at + 12 <= len(data):
        n_namesz, n_descsz, n_type = struct.unpack_from(order + "III", data, at)
        desc = at + 12 + (-(-n_namesz // 4) * 4)
        end = desc + (-(-n_descsz // 4) * 4)
        if end > len(data):
            raise HeadError(at, f"note of type {n_type:#x} runs past the notes")
        out.append((data[at + 12 : at + 12 + n_namesz].rstrip(b"\0"), n_type,
                    data[desc : desc + n_descsz]))  # fmt: skip
        at = end
    return out


def _decode_notes(
    data: bytes, order: str, machine: int
) -> tuple[list[Thread], tuple[int, int] | None, list[FileMap]]:
    """Threads, (si_signo, si_addr) of the first NT_SIGINFO, and the NT_FILE mappings."""
    if machine not in SP_INDEX:
        raise HeadError(18, f"e_machine {machine}: registers of this machine are not known")
    threads: list[Thread] = []
    siginfo: tuple[int, int] | None = None
    files: list[FileMap] = []
    for name, n_type, desc in iter_notes(data, order):
        if name != b"CORE":
            continue
        if n_type == NT_PRSTATUS:
            threads.append(_thread(desc, order, machine))
        elif n_type == NT_SIGINFO and siginfo is None and len(desc) >= SI_ADDR_OFFSET + 8:
            (signo,) = struct.unpack_from(order + "i", desc, 0)
            (address,) = struct.unpack_from(order + "Q", desc, SI_ADDR_OFFSET)
            siginfo = (signo, address)
        elif n_type == NT_FILE:
            files = _files(desc, order)
    if not threads:
        raise HeadError(0, "no NT_PRSTATUS note: no thread to keep")
    return threads, siginfo, files


def _thread(desc: bytes, order: str, machine: int) -> Thread:
    count = (len(desc) - PR_REG_OFFSET - PR_TAIL) // 8
    if count <= SP_INDEX[machine]:
        raise HeadError(0, f"NT_PRSTATUS of {len(desc)} bytes holds no stack pointer")
    (tid,) = struct.unpack_from(order + "i", desc, PR_PID_OFFSET)
    regs = struct.unpack_from(f"{order}{count}Q", desc, PR_REG_OFFSET)
    return Thread(tid, regs, regs[SP_INDEX[machine]])


def _files(desc: bytes, order: str) -> list[FileMap]:
    """NT_FILE (fs/binfmt_elf.c fill_files_note): count, page size, count x (start, end,
    page offset), then count NUL-terminated paths."""
    if len(desc) < 16:
        return []
    count, _page = struct.unpack_from(order + "QQ", desc, 0)
    table = 16 + 24 * count
    if table > len(desc):
        raise HeadError(0, f"NT_FILE names {count} files in {len(desc)} bytes")
    paths = desc[table:].split(b"\0")
    out = []
    for i in range(count):
        start, end, _pgoff = struct.unpack_from(order + "QQQ", desc, 16 + 24 * i)
        path = paths[i].decode(errors="replace") if i < len(paths) else ""
        out.append(FileMap(start, end, path))
    return out
