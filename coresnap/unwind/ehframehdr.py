"""``.eh_frame_hdr``: the linker's sorted (pc, FDE) search table, so one FDE can be found and
parsed without parsing all of ``.eh_frame`` (libc has 3,700 FDEs: seconds in pyelftools).

Layout (LSB, "Exception Frame Header"): version (1), eh_frame_ptr_enc, fde_count_enc,
table_enc, then eh_frame_ptr, fde_count, and fde_count pairs (initial_location, fde_address).
Only the encoding every GNU/LLVM linker writes for the table is read
(``DW_EH_PE_datarel | DW_EH_PE_sdata4``, 0x3b, relative to the header's start); anything
else means "no usable table" and the caller parses the whole section.
"""

from __future__ import annotations

import bisect
import struct

from elftools.dwarf.callframe import FDE, CallFrameInfo
from elftools.elf.elffile import ELFFile

from coresnap.unwind.cfi import FrameEntry, FrameTable, open_cfi

DW_EH_PE_omit = 0xFF
DW_EH_PE_udata4 = 0x03
DW_EH_PE_datarel_sdata4 = 0x3B
_POINTER_SIZE = {0x00: None, 0x02: 2, 0x03: 4, 0x04: 8, 0x0A: 2, 0x0B: 4, 0x0C: 8}


def search_table(elf: ELFFile) -> list[tuple[int, int]] | None:
    """(initial_location, FDE address) pairs, sorted, or None without a usable table."""
    hdr = elf.get_section_by_name(".eh_frame_hdr")
    if hdr is None or hdr["sh_type"] == "SHT_NOBITS":
        return None
    data, base = hdr.data(), hdr["sh_addr"]
    if len(data) < 4 or data[0] != 1 or data[3] != DW_EH_PE_datarel_sdata4:
        return None
    ptr_size = _POINTER_SIZE.get(data[1] & 0x0F, 0)
    if data[1] == DW_EH_PE_omit or ptr_size == 0 or data[2] != DW_EH_PE_udata4:
        return None
    pos = 4 + (ptr_size or elf.elfclass // 8)
    order = "<" if elf.little_endian else ">"
    if pos + 4 > len(data):
        return None
    (count,) = struct.unpack_from(order + "I", data, pos)
    pos += 4
    count = min(count, (len(data) - pos) // 8)  # a count past the section's end is a lie
    pairs = struct.unpack_from(f"{order}{2 * count}i", data, pos)
    return sorted((base + pairs[i], base + pairs[i + 1]) for i in range(0, len(pairs), 2))


class IndexedFrameTable(FrameTable):
    """A :class:`FrameTable` whose FDEs are parsed one at a time, on first lookup."""

    def __init__(self, path: str, cfi: CallFrameInfo, pairs: list[tuple[int, int]]) -> None:
        super().__init__(path, ".eh_frame", [])
        self._cfi = cfi
        self._starts = [start for start, _ in pairs]
        self._offsets = [address - cfi.address for _, address in pairs]
        self._parsed: dict[int, FrameEntry | None] = {}

    def __len__(self) -> int:
        return len(self._starts)

    def find(self, address: int) -> FrameEntry | None:
        i = bisect.bisect_right(self._starts, address) - 1
        for j in range(i, max(-1, i - 5), -1):  # nested ranges: look back a little
            entry = self._entry(j)
            if entry is not None and entry.start <= address < entry.end:
                return entry
        return None

    def _entry(self, i: int) -> FrameEntry | None:
        if i not in self._parsed:
            self._parsed[i] = None
            offset = self._offsets[i]
            if 0 <= offset < self._cfi.size:
                try:
                    fde = self._cfi._parse_entry_at(offset)  # pyelftools' own per-entry parser
                except Exception as exc:  # construct/pyelftools raise many types for bad bytes
                    self.problems.append(f"{self.path}: .eh_frame+{offset:#x}: {exc}")
                    return None
                if isinstance(fde, FDE):
                    start = fde.header["initial_location"]
                    end = start + fde.header["address_range"]
                    self._parsed[i] = FrameEntry(start, end, fde, ".eh_frame")
        return self._parsed[i]


def load_indexed_table(elf: ELFFile, path: str) -> FrameTable | None:
    """The lazily parsed ``.eh_frame`` of ``elf``; None without ``.eh_frame`` or a usable index."""
    cfi = open_cfi(elf, ".eh_frame")
    pairs = search_table(elf) if cfi is not None else None
    return IndexedFrameTable(path, cfi, pairs) if cfi is not None and pairs else None
