"""One ELF file of a module, opened for unwinding: its CFI, symbols and debug info.

The file is the binary found on disk (or the vDSO image read from the core); its separate
debug file, when installed under ``/usr/lib/debug/.build-id/``, adds ``.debug_frame``,
``.symtab`` and the DWARF line and inline information. Each part is parsed on first use.
"""

from __future__ import annotations

import io
import mmap
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO, Any, TypeVar

from elftools.common.exceptions import ELFError
from elftools.elf.elffile import ELFFile

from coresnap.errors import InvalidDebugFile, UnwindError
from coresnap.unwind.cfi import FrameEntry, FrameTable, SectionName, load_frame_table
from coresnap.unwind.debuginfo import DebugInfo
from coresnap.unwind.ehframehdr import load_indexed_table
from coresnap.unwind.symbols import SymbolTable, read_symbols

DEBUG_ROOTS = ("/usr/lib/debug",)
T = TypeVar("T")


@dataclass
class ObjectFile:
    """An ELF file and, lazily, what the unwinder reads from it."""

    path: str
    elf: ELFFile
    build_id: str | None
    debug_elf: ELFFile | None = None
    problems: list[str] = field(default_factory=list)  # parse failures, kept as notes
    _tables: dict[str, FrameTable | None] = field(default_factory=dict)
    _symbols: SymbolTable | None = None
    _debug: DebugInfo | None | bool = None  # False: looked, none usable

    def _guarded(self, what: str, parse: Callable[[], T], default: T) -> T:
        """Run a pyelftools parse; on any failure note it and use ``default``.

        The one boundary where pyelftools' exceptions (ELFError, construct errors, but also
        OverflowError, KeyError... on hostile bytes such as a vDSO image from a core) stop.
        """
        try:
            return parse()
        except Exception as exc:
            self.problems.append(f"{self.path}: {what}: {type(exc).__name__}: {exc}")
            return default

    @property
    def link_base(self) -> int:
        """The lowest ``PT_LOAD`` address, page aligned: the module's start minus its bias."""
        return self._guarded("program headers", self._link_base, 0)

    def _link_base(self) -> int:
        loads = [s for s in self.elf.iter_segments() if s["p_type"] == "PT_LOAD"]
        if not loads:
            return 0
        first = min(loads, key=lambda s: s["p_vaddr"])
        align = max(first["p_align"], 1)
        return first["p_vaddr"] - first["p_vaddr"] % align if align <= 0x10000 else 0

    def find_frame(self, address: int) -> FrameEntry | None:
        """The FDE for link-time ``address``: ``.eh_frame`` first, then ``.debug_frame``."""
        for source, section in (
            (self.elf, ".eh_frame"),
            (self.elf, ".debug_frame"),
            (self.debug_elf, ".debug_frame"),
        ):
            table = self._table(source, section)  # type: ignore[arg-type]
            entry = table.find(address) if table is not None else None
            if entry is not None:
                return entry
        return None

    def _table(self, elf: ELFFile | None, section: SectionName) -> FrameTable | None:
        if elf is None:
            return None
        key = f"{id(elf)}{section}"
        if key not in self._tables:
            table = self._guarded(section, lambda: _load_table(elf, self.path, section), None)
            self._tables[key] = table
            if table is not None and table.problems:
                self.problems.append(f"{len(table.problems)} bad entries: {table.problems[0]}")
        return self._tables[key]

    @property
    def symbols(self) -> SymbolTable:
        if self._symbols is None:
            elves = [e for e in (self.debug_elf, self.elf) if e is not None]
            self._symbols = self._guarded("symbols", lambda: read_symbols(*elves), SymbolTable([]))
        return self._symbols

    @property
    def debug(self) -> DebugInfo | None:
        if self._debug is None:
            self._debug = self._guarded("debug info", self._open_debug, None) or False
        return self._debug if isinstance(self._debug, DebugInfo) else None

    def _open_debug(self) -> DebugInfo | None:
        for elf in (self.elf, self.debug_elf):
            if elf is not None and elf.get_section_by_name(".debug_info") is not None:
                return DebugInfo(elf.get_dwarf_info(relocate_dwarf_sections=False))
        return None


def _load_table(elf: ELFFile, path: str, section: SectionName) -> FrameTable | None:
    """``.eh_frame`` through its ``.eh_frame_hdr`` index when usable; else parse it all."""
    if section == ".eh_frame":
        indexed = load_indexed_table(elf, path)
        if indexed is not None:
            return indexed
    return load_frame_table(elf, path, section)


def build_id_of(elf: ELFFile) -> str | None:
    """The hex ``NT_GNU_BUILD_ID`` of an ELF file, or None."""
    for segment in elf.iter_segments():
        if segment["p_type"] != "PT_NOTE":
            continue
        for note in segment.iter_notes():  # type: ignore[attr-defined]
            if note["n_type"] == "NT_GNU_BUILD_ID" and note["n_name"] == "GNU":
                return str(note["n_desc"])
    return None


def debug_file_build_id(data: bytes) -> str:
    """The GNU build id of the ELF image ``data`` (a debug file to upload); raises
    InvalidDebugFile when ``data`` is not ELF, has no build id or has neither a symbol table
    nor DWARF (a stripped file names nothing). Notes are read from note sections (a separate
    .debug file keeps them as sections), else from PT_NOTE segments."""
    if not data.startswith(b"\x7fELF"):
        raise InvalidDebugFile("?", f"not an ELF file (starts with {data[:4]!r})")
    try:
        elf = ELFFile(io.BytesIO(data))
        found = _note_build_id(elf)
        names = {s.name for s in elf.iter_sections()}
    except Exception as e:  # pyelftools on hostile bytes: ELFError, construct, struct errors...
        raise InvalidDebugFile("?", f"unreadable ELF file: {type(e).__name__}: {e}") from e
    if found is None:
        raise InvalidDebugFile("?", "the ELF file has no GNU build id note")
    if not names & {".symtab", ".debug_info"}:
        raise InvalidDebugFile(
            found, "no .symtab and no .debug_info: a stripped file names nothing"
        )
    return found


def _note_build_id(elf: ELFFile) -> str | None:
    sources: list[Any] = [s for s in elf.iter_sections() if s["sh_type"] == "SHT_NOTE"]
    sources += [s for s in elf.iter_segments() if s["p_type"] == "PT_NOTE"]
    for source in sources:
        for note in source.iter_notes():
            if note["n_type"] == "NT_GNU_BUILD_ID" and note["n_name"] == "GNU":
                return str(note["n_desc"]).lower()
    return None


def debug_file_for(build_id: str | None, roots: tuple[str, ...] = DEBUG_ROOTS) -> str | None:
    """The separate debug file ``<root>/.build-id/xx/yyyy.debug`` for a build id, if present."""
    if not build_id or len(build_id) < 3:
        return None
    for root in roots:
        candidate = os.path.join(root, ".build-id", build_id[:2], build_id[2:] + ".debug")
        if os.path.isfile(candidate):
            return candidate
    return None


def open_object(path: str) -> ObjectFile:
    """Open the ELF file at ``path`` (memory-mapped) and its debug file when installed.

    Raises :class:`OSError` if it cannot be read and :class:`UnwindError` if it is not ELF.
    """
    with open(path, "rb") as f:
        try:
            data: IO[bytes] = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)  # type: ignore[assignment]
        except ValueError as exc:  # an empty file cannot be mapped
            raise UnwindError(path, "ELF header", 0, f"not a usable ELF file: {exc}") from exc
    return _object_from(path, data)


def object_from_bytes(name: str, image: bytes) -> ObjectFile:
    """An :class:`ObjectFile` from an in-memory image (the vDSO as dumped in the core)."""
    return _object_from(name, io.BytesIO(image))


def _object_from(path: str, stream: IO[bytes]) -> ObjectFile:
    try:
        elf = ELFFile(stream)
        build_id = build_id_of(elf)
        has_debug_info = elf.get_section_by_name(".debug_info") is not None
    except Exception as exc:  # pyelftools on hostile bytes: ELFError, construct, Overflow...
        raise UnwindError(path, "ELF header", 0, f"not a usable ELF file: {exc}") from exc
    obj = ObjectFile(path=path, elf=elf, build_id=build_id)
    debug_path = debug_file_for(build_id)
    if debug_path is not None and not has_debug_info:
        try:
            with open(debug_path, "rb") as f:
                dstream = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
            obj.debug_elf = ELFFile(dstream)  # type: ignore[arg-type]
        except (OSError, ELFError, ValueError) as exc:
            obj.problems.append(f"{debug_path}: {exc}")
    return obj
