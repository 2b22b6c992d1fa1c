"""The GNU build id of an ELF file on disk (``NT_GNU_BUILD_ID`` in a ``PT_NOTE``).

Used to decide whether a file found on disk is the one the crashed process had mapped: a
different build id means the file changed since the crash and must not be trusted.
"""

from __future__ import annotations

import os

from elftools.common.exceptions import ELFError
from elftools.elf.elffile import ELFFile


def file_build_id(path: str | os.PathLike[str]) -> str | None:
    """The hex build id of the ELF file at ``path``; None when it has none or is unreadable."""
    try:
        with open(path, "rb") as f:
            elf = ELFFile(f)
            for segment in elf.iter_segments():
                if segment.header.p_type != "PT_NOTE":
                    continue
                for note in segment.iter_notes():  # type: ignore[attr-defined]
                    if note.n_type == "NT_GNU_BUILD_ID" and note.n_name == "GNU":
                        return str(note.n_desc)
    except (OSError, ELFError, ValueError, KeyError):
        return None
    return None
