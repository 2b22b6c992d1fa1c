"""``open_core``: the ELF container, the OS's notes and the memory, joined into one object.

The OS is chosen by the notes' namespaces: ``FreeBSD`` notes go to
``coresnap.corefile.freebsd.fold``, ``NetBSD-CORE`` to ``coresnap.corefile.netbsd.fold``,
``CORE``/``LINUX`` to :func:`coresnap.corefile.linux.fold`. Each returns a
:class:`~coresnap.corefile.model.NoteView`; this module joins its file mappings with the
``PT_LOAD`` segments and finds the modules.
"""

from __future__ import annotations

import bisect
import os
import struct
from collections.abc import Callable
from collections.abc import Mapping as MappingABC
from functools import cached_property
from types import TracebackType

from coresnap.corefile import freebsd, linux, netbsd
from coresnap.corefile.buildid import find_modules
from coresnap.corefile.elf import ElfCore, read_core
from coresnap.corefile.memory import AddressSpace
from coresnap.corefile.model import (
    AuxvEntry,
    ElfIdent,
    Mapping,
    Module,
    Note,
    NoteView,
    ProcessInfo,
    Segment,
    SignalInfo,
    Thread,
)
from coresnap.corefile.reader import CoreReader
from coresnap.errors import CoreFormatError, CoresnapError

Fold = Callable[[list[Note], ElfIdent], NoteView]


def _choose_fold(notes: list[Note]) -> tuple[str, Fold | None]:
    names = {n.name.split("@", 1)[0] for n in notes}
    if "FreeBSD" in names:
        return "freebsd", freebsd.fold
    if "NetBSD-CORE" in names:
        return "netbsd", netbsd.fold
    if "OpenBSD" in names:
        return "openbsd", None
    if names & {"CORE", "LINUX"}:
        return "linux", linux.fold
    return "unknown", None


def _fold(notes: list[Note], ident: ElfIdent) -> NoteView:
    os_name, fold = _choose_fold(notes)
    if fold is None:
        view = NoteView("unknown", ProcessInfo(), [], None, None)
        if os_name == "openbsd":
            view.os = "openbsd"
        view.decoded_notes = [(n, None) for n in notes]
        return view
    return fold(notes, ident)


def join_mappings(segments: list[Segment], files: list[Mapping]) -> list[Mapping]:
    """One mapping per PT_LOAD, named by the file mapping that contains it; file mappings
    with no PT_LOAD at all (BSD cores skip some) are kept with ``in_core=False``."""
    files = sorted(files, key=lambda f: f.start)
    starts = [f.start for f in files]
    used: set[int] = set()
    out = []
    for seg in segments:
        if not seg.p_memsz:
            continue
        m = Mapping(seg.p_vaddr, seg.end, seg.perms, in_core=seg.available > 0)
        out.append(m)
        if not files:
            continue
        i = bisect.bisect_right(starts, seg.p_vaddr) - 1
        f = files[i] if i >= 0 and files[i].start <= seg.p_vaddr < files[i].end else None
        if f is not None:
            used.add(i)
            m.path = f.path
            m.file_offset = f.file_offset + (seg.p_vaddr - f.start)
    seg_starts = sorted(s.p_vaddr for s in segments) if files else []
    for i, f in enumerate(files):
        j = bisect.bisect_left(seg_starts, f.start)
        overlapped = j < len(seg_starts) and seg_starts[j] < f.end
        if i not in used and not overlapped:
            out.append(Mapping(f.start, f.end, f.perms, f.file_offset, f.path, in_core=False))
    return sorted(out, key=lambda m: m.start)


# coresnap/capture/minicore.py: a minicore splits the kernel's PT_LOADs into kept and dropped
# pieces and lists the originals in a CORESNAP note (p_vaddr, p_memsz, p_filesz, p_flags each).
_MINICORE_NOTE = ("CORESNAP", 0x4D494E49)


def as_dumped(elf: ElfCore) -> list[Segment]:
    """The PT_LOADs as the kernel wrote them: those of a minicore's CORESNAP note, else the
    file's. The process's memory map is built from these (reads use the file's pieces)."""
    note = next((n for n in elf.notes if (n.name, n.type) == _MINICORE_NOTE), None)
    if note is None or len(note.desc) < 8:
        return elf.segments
    o = elf.ident.byteorder
    _version, count = struct.unpack_from(o + "II", note.desc)
    if 8 + 32 * count > len(note.desc):
        return elf.segments
    rows = [struct.unpack_from(o + "QQQI", note.desc, 8 + 32 * i) for i in range(count)]
    return [Segment(v, m, 0, f, flags, f) for v, m, f, flags in rows]


class Core:
    """A decoded core: build with :func:`open_core`; ``close()`` (or ``with``) releases files."""

    def __init__(
        self,
        reader: CoreReader,
        elf: ElfCore,
        view: NoteView,
        *,
        sysroot: str | None = None,
        path_map: MappingABC[str, str] | None = None,
    ) -> None:
        self.path = reader.path
        self.size = reader.size
        self._reader = reader
        self.elf = elf
        self.view = view
        self.ident: ElfIdent = elf.ident
        self.os = view.os
        self.segments: list[Segment] = elf.segments
        self.notes: list[Note] = elf.notes
        self.process: ProcessInfo = view.process
        self.threads: list[Thread] = view.threads
        self.signal: SignalInfo | None = view.signal
        self.auxv: list[AuxvEntry] = view.auxv
        self.details: dict[str, object] = view.details
        self.warnings: list[str] = elf.warnings
        self.mappings: list[Mapping] = join_mappings(as_dumped(elf), view.files)
        self.memory = AddressSpace(
            reader,
            elf.segments,
            self.mappings,
            byteorder=elf.ident.byteorder,
            sysroot=sysroot,
            path_map=path_map,
        )
        if self.process.exe is None:
            self.process.exe = self._exe()
        self._label_mappings()

    def _label_mappings(self) -> None:
        """Name the anonymous mappings the core identifies, as /proc/<pid>/maps does."""
        aux = {e.name: e.a_val for e in self.auxv}
        main = next((t for t in self.threads if t.tid == self.process.pid), self.crashed_thread)
        labels = {"[vdso]": aux.get("AT_SYSINFO_EHDR"), "[stack]": main.sp if main else None}
        if self.ident.arch == "x86_64":
            labels["[vsyscall]"] = 0xFFFFFFFFFF600000  # fixed by the x86_64 ABI
        for t in self.threads:
            if t is not main and t.sp is not None:
                labels[f"[stack:{t.tid}]"] = t.sp  # as /proc/<pid>/maps did before Linux 4.5
        for label, address in labels.items():
            m = self.memory.find_mapping(address) if address is not None else None
            if m is not None and m.path is None and m.label is None:
                m.label = label

    @property
    def crashed_thread(self) -> Thread | None:
        """The thread that took the signal (the first NT_PRSTATUS on Linux)."""
        i = self.view.crashed_index
        return self.threads[i] if i is not None and 0 <= i < len(self.threads) else None

    @property
    def truncated(self) -> list[Segment]:
        """Segments whose data runs past the end of the file."""
        return [s for s in self.segments if s.truncated]

    @cached_property
    def modules(self) -> list[Module]:
        """Mapped ELF objects with build ids (reads their headers from the core or disk)."""
        return find_modules(self.mappings, self.auxv, self.memory, self.ident, self.process.exe)

    def _exe(self) -> str | None:
        aux = {e.name: e.a_val for e in self.auxv}
        entry = aux.get("AT_ENTRY")
        m = self.memory.find_mapping(entry) if entry is not None else None
        if m is not None and m.path:
            return m.path
        if "AT_EXECFN" in aux:
            try:
                return os.fsdecode(self.memory.read_cstring(aux["AT_EXECFN"], 4096))
            except CoresnapError:
                return None
        return None

    def close(self) -> None:
        self.memory.close()
        self._reader.close()

    def __enter__(self) -> Core:
        return self

    def __exit__(
        self, t: type[BaseException] | None, v: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def open_core(
    path: str | os.PathLike[str],
    *,
    sysroot: str | None = None,
    path_map: MappingABC[str, str] | None = None,
) -> Core:
    """Open and decode the core at ``path``.

    ``sysroot`` is prepended to the paths of mapped files (libraries read for memory the core
    lacks, build ids); ``path_map`` maps exact paths to local files first.
    Raises CoreFileUnreadable (missing, not a regular file, no permission) and CoreFormatError
    (malformed ELF or notes).
    """
    reader = CoreReader(path)
    try:
        elf = read_core(reader)
        try:
            view = _fold(elf.notes, elf.ident)
        except CoreFormatError as e:
            if e.path is not None:
                raise
            # Note decoders work on bytes and do not know the file: name it here.
            raise CoreFormatError(e.offset, e.what, reader.path) from None
        return Core(reader, elf, view, sysroot=sysroot, path_map=path_map)
    except BaseException:
        reader.close()
        raise
