"""Outside oracles for the core reader: ``eu-readelf -n`` and ``readelf -lW``, parsed."""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class EuNote:
    owner: str
    type: str
    size: int
    fields: dict[str, str] = field(default_factory=dict)
    lines: list[str] = field(default_factory=list)


_NOTE_HEAD = re.compile(r"^  (\S+)\s+(\d+)\s+(\S+)")
_FIELD = re.compile(r"([A-Za-z_][\w.]*):\s+(\S+)")


def eu_readelf_notes(path: Path) -> list[EuNote]:
    """Every note ``eu-readelf -n`` lists, with its ``key: value`` fields."""
    out = subprocess.run(
        ["eu-readelf", "-n", str(path)], capture_output=True, text=True, check=True
    ).stdout
    notes: list[EuNote] = []
    for line in out.splitlines():
        head = _NOTE_HEAD.match(line)
        if head and not line.startswith("    "):
            notes.append(EuNote(head.group(1), head.group(3), int(head.group(2))))
        elif notes and line.startswith("    "):
            notes[-1].lines.append(line.strip())
            for key, value in _FIELD.findall(line):
                notes[-1].fields.setdefault(key, value.rstrip(","))
    return notes


def eu_int(value: str) -> int:
    """eu-readelf prints registers in hex (0x...) or signed decimal."""
    return int(value, 16) if value.startswith("0x") else int(value)


def eu_nt_file(note: EuNote) -> list[tuple[int, int, int, str]]:
    """(start, end, file offset in bytes, path) of an eu-readelf FILE note."""
    entries = []
    for line in note.lines:
        m = re.match(r"([0-9a-f]+)-([0-9a-f]+) ([0-9a-f]+) \d+\s+(.*)$", line)
        if m:
            start, end, ofs = (int(m.group(i), 16) for i in (1, 2, 3))
            entries.append((start, end, ofs, m.group(4)))
    return entries


def readelf_loads(path: Path) -> list[tuple[int, int, int, int, str]]:
    """(p_offset, p_vaddr, p_filesz, p_memsz, flags) of every LOAD ``readelf -lW`` shows."""
    out = subprocess.run(
        ["readelf", "-lW", str(path)], capture_output=True, text=True, check=True
    ).stdout
    loads = []
    for line in out.splitlines():
        parts = line.split()
        if parts[:1] == ["LOAD"]:
            offset, vaddr, _, filesz, memsz = (int(x, 16) for x in parts[1:6])
            flags = "".join(parts[6:-1])
            loads.append((offset, vaddr, filesz, memsz, flags))
    return loads


def readelf_build_id(path: Path) -> str | None:
    """The GNU build id ``readelf -n`` prints for an ELF file."""
    out = subprocess.run(
        ["readelf", "-n", str(path)], capture_output=True, text=True, check=True
    ).stdout
    m = re.search(r"Build ID: ([0-9a-f]+)", out)
    return m.group(1) if m else None


def nm_address(path: Path, symbol: str) -> int:
    """The link-time address of ``symbol`` in ``path`` (``nm``)."""
    out = subprocess.run(["nm", str(path)], capture_output=True, text=True, check=True).stdout
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[2] == symbol:
            return int(parts[0], 16)
    raise LookupError(symbol)
