"""The ELF core reader: ``open_core(path)`` decodes a Linux (or BSD) core file.

Layers, bottom up: :mod:`.structs` (layouts), :mod:`.reader` (bounded reads, the one place
short reads become ``CoreFormatError``), :mod:`.elf` (headers, segments, notes), the OS note
decoders (:mod:`.linux`, ``freebsd``, ``netbsd``), :mod:`.memory` (read an address),
:mod:`.buildid` (modules) and :mod:`.core` (all of it joined).
"""

from coresnap.corefile.core import Core, open_core
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

__all__ = [
    "AddressSpace",
    "AuxvEntry",
    "Core",
    "ElfIdent",
    "Mapping",
    "Module",
    "Note",
    "NoteView",
    "ProcessInfo",
    "Segment",
    "SignalInfo",
    "Thread",
    "open_core",
]
