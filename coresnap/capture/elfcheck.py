"""A tiny, bounded check that a file is the ELF core of a given process. Stdlib only.

The full reader is :mod:`coresnap.corefile`; the archive tool only needs to know, cheaply and
without trusting the data, that the bytes it wrote are an ``ET_CORE`` whose ``NT_PRSTATUS``
notes name the crashing thread (the notes hold pids of the process's own pid namespace).
"""

from __future__ import annotations

import struct
from typing import BinaryIO

# elf.h
ELFMAG = b"\x7fELF"
ELFCLASS32, ELFCLASS64 = 1, 2
ELFDATA2LSB, ELFDATA2MSB = 1, 2
ET_CORE = 4
PT_NOTE = 4
NT_PRSTATUS = 1
# struct elf_prstatus: pr_info (12 bytes), pr_cursig (2) + pad (2), pr_sigpend, pr_sighold
# (unsigned long each), then pr_pid: offset 32 on 64-bit targets, 24 on 32-bit ones.
PR_PID_OFFSET = {ELFCLASS32: 24, ELFCLASS64: 32}
MAX_PHNUM = 4096
MAX_NOTES_BYTES = 16 << 20


class CoreCheck:
    """What :func:`check` found (a plain class: dataclasses cost the archive tool 10 ms)."""

    def __init__(self) -> None:
        self.is_elf = False
        self.is_core = False
        self.machine = 0
        self.thread_pids: list[int] = []  # pr_pid of each NT_PRSTATUS
        self.problem = ""  # empty when the notes were read whole


def check(f: BinaryIO, size: int) -> CoreCheck:
    """Read the ELF header, program headers and PT_NOTE segments of ``f`` (``size`` bytes)."""
    result = CoreCheck()
    head = _read(f, 0, 64)
    if len(head) < 52 or head[:4] != ELFMAG or head[4] not in PR_PID_OFFSET:
        result.problem = "not an ELF file" if head[:4] != ELFMAG else "bad ELF header"
        return result
    result.is_elf = True
    cls, order = head[4], "<" if head[5] == ELFDATA2LSB else ">"
    if cls == ELFCLASS64:
        e_type, e_machine = struct.unpack_from(order + "HH", head, 16)
        e_phoff, e_phentsize, e_phnum = (*struct.unpack_from(order + "Q", head, 32),
                                         *struct.unpack_from(order + "HH", head, 54))  # fmt: skip
    else:
        e_type, e_machine = struct.unpack_from(order + "HH", head, 16)
        e_phoff, e_phentsize, e_phnum = (*struct.unpack_from(order + "I", head, 28),
                                         *struct.unpack_from(order + "HH", head, 42))  # fmt: skip
    result.machine = e_machine
    result.is_core = e_type == ET_CORE
    if not result.is_core:
        result.problem = f"ELF type {e_type}, not ET_CORE"
        return result
    if e_phnum > MAX_PHNUM or e_phentsize < (56 if cls == ELFCLASS64 else 32):
        result.problem = f"implausible program headers (e_phnum {e_phnum})"
        return result
    phdrs = _read(f, e_phoff, e_phnum * e_phentsize)
    if len(phdrs) < e_phnum * e_phentsize:
        result.problem = "program headers cut off (truncated core)"
        return result
    for i in range(e_phnum):
        p_type, p_offset, p_filesz = _phdr(phdrs, i * e_phentsize, cls, order)
        if p_type == PT_NOTE:
            notes = _read(f, p_offset, min(p_filesz, MAX_NOTES_BYTES))
            if len(notes) < p_filesz:
                result.problem = "notes cut off (truncated core)"
            result.thread_pids += _prstatus_pids(notes, cls, order)
    return result


def _read(f: BinaryIO, offset: int, n: int) -> bytes:
    f.seek(offset)
    return f.read(n)


def _phdr(data: bytes, at: int, cls: int, order: str) -> tuple[int, int, int]:
    if cls == ELFCLASS64:
        p_type, _flags, p_offset, _va, _pa, p_filesz = struct.unpack_from(
            order + "IIQQQQ", data, at
        )
    else:
        p_type, p_offset, _va, _pa, p_filesz = struct.unpack_from(order + "IIIII", data, at)
    return p_type, p_offset, p_filesz


def _prstatus_pids(notes: bytes, cls: int, order: str) -> list[int]:
    pids = []
    at = 0
    while at + 12 <= len(notes):
        n_namesz, n_descsz, n_type = struct.unpack_from(order + "III", notes, at)
        desc = at + 12 + (-(-n_namesz // 4) * 4)
        end = desc + (-(-n_descsz // 4) * 4)
        if end > len(notes):
            break
        name = notes[at + 12 : at + 12 + n_namesz].rstrip(b"\0")
        if n_type == NT_PRSTATUS and name == b"CORE" and n_descsz >= PR_PID_OFFSET[cls] + 4:
            pids.append(struct.unpack_from(order + "i", notes, desc + PR_PID_OFFSET[cls])[0])
        at = end
    return pids
