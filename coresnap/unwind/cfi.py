"""Call frame information of one ELF file: its CIEs and FDEs, indexed by address.

pyelftools parses the section (``CallFrameInfo``: headers, augmentations, pointer encodings,
instruction decoding); this module only keeps the FDEs in an address-sorted table so the
unwinder finds the one covering a pc with a binary search. Addresses are link-time addresses
of the file (``.eh_frame``'s pc-relative encodings are resolved against the section's
``sh_addr``); the unwinder subtracts the module's load bias first.
"""

from __future__ import annotations

import bisect
import io
from dataclasses import dataclass
from typing import Literal

from elftools.dwarf.callframe import CIE, FDE, CallFrameInfo
from elftools.dwarf.structs import DWARFStructs
from elftools.elf.elffile import ELFFile

from coresnap.errors import UnwindError

SectionName = Literal[".eh_frame", ".debug_frame"]


@dataclass(frozen=True)
class FrameEntry:
    """One FDE: it covers link-time addresses [start, end)."""

    start: int
    end: int
    fde: FDE
    section: SectionName

    @property
    def cie(self) -> CIE:
        cie = self.fde.cie
        assert isinstance(cie, CIE)
        return cie

    @property
    def signal_frame(self) -> bool:
        """The CIE's augmentation has ``S``: this is a signal trampoline (GCC extension).

        The caller's pc was not pushed by a call, so the next frame must look up its own
        pc, not pc-1.
        """
        augmentation = self.cie.header.get("augmentation") or b""
        return augmentation.startswith(b"z") and b"S" in augmentation


class FrameTable:
    """The FDEs of one section of one file, sorted by start address."""

    def __init__(self, path: str, section: SectionName, entries: list[FrameEntry]) -> None:
        self.path = path
        self.section = section
        self.entries = sorted(entries, key=lambda e: e.start)
        self._starts = [e.start for e in self.entries]
        self.problems: list[str] = []  # entries that could not be parsed (skipped)

    def __len__(self) -> int:
        return len(self.entries)

    def find(self, address: int) -> FrameEntry | None:
        """The FDE whose range holds link-time ``address``, or None."""
        i = bisect.bisect_right(self._starts, address) - 1
        # Ranges may nest (zero-length FDEs, overlapping hand-written CFI): look back a little.
        for entry in reversed(self.entries[max(0, i - 4) : i + 1]):
            if entry.start <= address < entry.end:
                return entry
        return None


def open_cfi(elf: ELFFile, section: SectionName) -> CallFrameInfo | None:
    """pyelftools' reader over ``section`` of ``elf``, or None if the file lacks it."""
    sec = elf.get_section_by_name(section)
    if sec is None or sec["sh_type"] == "SHT_NOBITS" or sec["sh_size"] == 0:
        return None
    data = sec.data()  # decompresses SHF_COMPRESSED .debug_frame
    structs = DWARFStructs(
        little_endian=elf.little_endian,
        dwarf_format=32,
        address_size=elf.elfclass // 8,
    )
    return CallFrameInfo(
        stream=io.BytesIO(data),
        size=len(data),
        address=sec["sh_addr"],
        base_structs=structs,
        for_eh_frame=section == ".eh_frame",
    )


def load_frame_table(elf: ELFFile, path: str, section: SectionName) -> FrameTable | None:
    """Parse all of ``section`` of ``elf`` into a :class:`FrameTable`; None if it lacks it.

    Entries pyelftools cannot parse are skipped and listed in ``problems``; raises
    :class:`UnwindError` when none can be parsed.
    """
    cfi = open_cfi(elf, section)
    if cfi is None:
        return None
    raw, problems = _parse_entries(cfi, cfi.size, elf.little_endian)
    if problems and not raw:
        raise UnwindError(path, section, problems[0][0], f"bad call frame info: {problems[0][1]}")
    entries = [
        FrameEntry(
            start=e.header["initial_location"],
            end=e.header["initial_location"] + e.header["address_range"],
            fde=e,
            section=section,
        )
        for e in raw
        if isinstance(e, FDE) and e.header["address_range"] > 0
    ]
    table = FrameTable(path, section, entries)
    table.problems = [f"{path}: {section}+{o:#x}: {what}" for o, what in problems]
    return table


def _parse_entries(
    cfi: CallFrameInfo, size: int, little_endian: bool
) -> tuple[list[object], list[tuple[int, str]]]:
    """Parse entry by entry, skipping (and reporting) the ones pyelftools cannot read.

    pyelftools' ``get_entries()`` gives up on the first bad entry (e.g. an FDE whose CIE has
    no ``R`` augmentation); every entry starts with its length, so one bad entry need not
    cost the whole section. ``_parse_entry_at`` is pyelftools' own per-entry parser.
    """
    entries: list[object] = []
    problems: list[tuple[int, str]] = []
    offset = 0
    order: Literal["little", "big"] = "little" if little_endian else "big"
    while offset + 4 <= size and len(problems) < 100:
        cfi.stream.seek(offset)
        length = int.from_bytes(cfi.stream.read(4), order)
        header = 4
        if length == 0xFFFFFFFF:
            length, header = int.from_bytes(cfi.stream.read(8), order), 12
        try:
            entries.append(cfi._parse_entry_at(offset))
        except Exception as exc:  # construct/pyelftools raise many types for bad bytes
            problems.append((offset, f"{type(exc).__name__}: {exc}"))
        if length == 0 and cfi.for_eh_frame:
            break  # the .eh_frame terminator
        offset += header + length
    return entries, problems
