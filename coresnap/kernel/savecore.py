"""What savecore(8) and crashinfo(8) leave in the crash directory (``dumpdir``, /var/crash).

For dump number N (``bounds`` holds the next one): ``info.N`` (the dump header, written by
``printheader()`` in ``sbin/savecore/savecore.c``), the dump itself — ``vmcore.N`` (a minidump
or full dump; ``.gz``/``.zst`` when compressed, ``vmcore_encrypted.N`` when encrypted) or
``textdump.tar.N`` (a textdump, see :mod:`coresnap.kernel.textdump`) — and, once crashinfo has
run on a vmcore, ``core.txt.N``. The ``*.last`` names are symbolic links to the newest set.
"""

from __future__ import annotations

import calendar
import os
import re
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from coresnap.errors import KernelDumpError
from coresnap.kernel.model import MAX_TEXT, DumpHeader

_NUMBERED = re.compile(
    r"^(?P<kind>info|vmcore|vmcore_encrypted|textdump\.tar|core\.txt)\.(?P<n>\d+)"
    r"(?P<ext>\.gz|\.zst)?$"
)
_KEYS = {  # the label printheader() prints -> DumpHeader field
    "Architecture": "architecture",
    "Dump Length": "dump_length",
    "Compression": "compression",
    "Dumptime": "dumptime",
    "Hostname": "hostname",
    "Magic": "magic",
    "Version String": "version",
    "Panic String": "panic",
    "Dump Parity": "parity",
    "Bounds": "bounds",
    "Dump Status": "status",
}
_INT_KEYS = ("dump_length", "parity", "bounds")


def read_text(path: str | os.PathLike[str], limit: int = MAX_TEXT) -> str:
    """The first ``limit`` bytes of a text file, decoded leniently. Raises KernelDumpError."""
    try:
        with open(path, "rb") as f:
            return f.read(limit).decode("utf-8", errors="replace")
    except OSError as e:
        raise KernelDumpError(str(path), e.strerror or str(e)) from None


def parse_dumptime(text: str) -> float | None:
    """``Dumptime``: ctime(3) text (``Wed May 10 14:02:33 2023``, the host's local time) in
    older savecore, ``2023-05-10 14:02:33 +0000`` style in newer; None if neither."""
    text = text.strip()
    for fmt in ("%Y-%m-%d %H:%M:%S %z", "%a %b %d %H:%M:%S %Y %z"):
        try:
            return datetime.strptime(text, fmt).timestamp()
        except ValueError:
            continue
    m = re.match(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) (UTC|GMT)$", text)
    if m:
        return float(calendar.timegm(time.strptime(m.group(1), "%Y-%m-%d %H:%M:%S")))
    try:
        return time.mktime(time.strptime(text, "%a %b %d %H:%M:%S %Y"))
    except ValueError:
        return None


def parse_info(text: str) -> DumpHeader:
    """``info.N`` as a DumpHeader; unknown or malformed lines are skipped."""
    h = DumpHeader()
    for line in text.splitlines():
        if line.startswith("Dump header from device"):
            h.device = line.partition(":")[2].strip() or None
            continue
        key, sep, value = line.strip().partition(":")
        name = _KEYS.get(key.strip())
        if not sep or name is None:
            continue
        value = value.strip()
        if name in _INT_KEYS:
            try:
                setattr(h, name, int(value))
            except ValueError:
                continue
        elif name == "dumptime":
            h.dumptime = parse_dumptime(value)
        else:
            setattr(h, name, value or None)
    return h


@dataclass
class DumpSet:
    """The files of dump number ``number`` in a crash directory."""

    number: int
    directory: Path
    files: dict[str, Path] = field(default_factory=dict)  # kind -> path

    @property
    def info(self) -> Path | None:
        return self.files.get("info")

    @property
    def vmcore(self) -> Path | None:
        return self.files.get("vmcore") or self.files.get("vmcore_encrypted")

    @property
    def textdump(self) -> Path | None:
        return self.files.get("textdump.tar")

    @property
    def core_txt(self) -> Path | None:
        return self.files.get("core.txt")

    def newest_mtime(self) -> float:
        return max((p.stat().st_mtime for p in self.files.values() if p.exists()), default=0.0)


def find_dumps(directory: str | os.PathLike[str]) -> list[DumpSet]:
    """Every numbered dump in ``directory`` that has an ``info.N``, oldest number first.
    Symbolic links (``vmcore.last``) and files of other names are ignored."""
    sets: dict[int, DumpSet] = {}
    base = Path(directory)
    try:
        entries = list(os.scandir(base))
    except OSError as e:
        raise KernelDumpError(str(base), e.strerror or str(e)) from None
    for entry in entries:
        m = _NUMBERED.match(entry.name)
        if not m or not entry.is_file(follow_symlinks=False):
            continue
        n = int(m.group("n"))
        sets.setdefault(n, DumpSet(n, base)).files[m.group("kind")] = Path(entry.path)
    return [sets[n] for n in sorted(sets) if "info" in sets[n].files]
