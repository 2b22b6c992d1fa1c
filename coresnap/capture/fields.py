"""The core_pattern specifiers coresnap-archive is installed with, declared once.

The kernel expands each ``%x`` in ``kernel.core_pattern`` into one argv element (since Linux
5.3 the pattern is split on spaces before expansion, so a comm with spaces stays one argument;
see core(5)). :func:`pattern` builds the installed pattern from :data:`FIELDS` and
:func:`parse` reads the argv back, so the two cannot disagree. Stdlib only.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple


class Field(NamedTuple):
    specifier: str
    name: str
    doc: str


FIELDS: tuple[Field, ...] = (
    Field("P", "pid", "PID in the initial pid namespace: the /proc/<pid> we read"),
    Field("p", "ns_pid", "PID as seen in the process's own pid namespace (what the notes hold)"),
    Field("I", "tid", "TID of the dumping thread, initial pid namespace"),
    Field("i", "ns_tid", "TID of the dumping thread in its own namespace (first NT_PRSTATUS)"),
    Field("s", "signal", "number of the signal causing the dump"),
    Field("t", "time", "time of the dump, seconds since the epoch"),
    Field("c", "core_limit", "soft RLIMIT_CORE of the process (the kernel leaves it to us)"),
    Field("h", "hostname", "hostname (UTS namespace of the process)"),
    Field("u", "uid", "real UID of the process"),
    Field("g", "gid", "real GID of the process"),
    Field("d", "dumpable", "dump mode (PR_GET_DUMPABLE): 1 normal, 2 suid_dumpable"),
    Field("e", "comm", "the process's comm (thread name, at most 15 bytes)"),
    Field("E", "exe_path", "pathname of the executable, '/' replaced by '!'"),
)

# core(5): RLIMIT_CORE as printed by %c when unlimited (RLIM_INFINITY, an unsigned long).
RLIM_INFINITY = (1 << 64) - 1
# include/linux/binfmts.h CORENAME_MAX_SIZE: longer patterns are cut by the kernel.
CORENAME_MAX_SIZE = 128


def pattern(archive: str, options: Sequence[str] = ()) -> str:
    """The ``kernel.core_pattern`` value piping cores to ``archive`` with ``options``."""
    words = ["|" + archive, *options, *(f"%{f.specifier}" for f in FIELDS)]
    return " ".join(words)


def parse(values: Sequence[str]) -> dict[str, str]:
    """Map the positional argv of the archive tool to field names. Raises ValueError."""
    if len(values) != len(FIELDS):
        raise ValueError(
            f"expected {len(FIELDS)} core_pattern fields "
            f"({' '.join('%' + f.specifier for f in FIELDS)}), got {len(values)}"
        )
    return {f.name: v for f, v in zip(FIELDS, values, strict=True)}
