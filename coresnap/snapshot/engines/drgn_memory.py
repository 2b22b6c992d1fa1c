"""Memory the kernel did not dump, served to drgn from the mapped files."""

from __future__ import annotations

import os
from typing import Any

import drgn


def add_file_segments(
    prog: drgn.Program, mappings: list[dict[str, Any]], exe: str | None, untrusted: set[str]
) -> None:
    """Serve file-backed mappings the kernel did not dump (``.rodata``, text) from the files.

    Linux dumps private file mappings only once written (``coredump_filter``), so string
    literals live in the executable, not the core; gdb reads them there and so do we, but only
    from files whose build id matches the core's. A mapping may be dumped in part: the kernel
    keeps the first page of an executable's text (its ELF header, coredump_filter bit 4), so
    a non-PIE Go binary's text is in the core for 4 KiB only; the rest comes from the file.
    """
    main = prog.main_module() if _has_main(prog) else None
    for m in mappings:
        path = m["path"]
        if not path or path in untrusted or path.startswith("["):
            continue
        start = _dumped_end(prog, m["start"], m["end"]) if m["in_core"] else m["start"]
        if start >= m["end"]:
            continue
        if exe and main is not None and path == main.name:
            path = exe
        if not os.path.isfile(path):
            continue
        reader = _FileRange(path, m["offset"] + start - m["start"], start)
        prog.add_memory_segment(start, m["end"] - start, reader, False)


_PAGE = 4096


def _dumped_end(prog: drgn.Program, start: int, end: int) -> int:
    """Where the dumped prefix of ``[start, end)`` ends (page granular): its end when the
    last byte can be read, else found by bisection over pages."""
    if _readable(prog, end - 1):
        return end
    lo, hi = start // _PAGE, (end - 1) // _PAGE  # page lo is dumped (in_core), page hi is not
    if not _readable(prog, start):
        return start
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if _readable(prog, mid * _PAGE) else (lo, mid)
    return hi * _PAGE


def _readable(prog: drgn.Program, address: int) -> bool:
    try:
        prog.read(address, 1)
    except (drgn.FaultError, ValueError):
        return False
    return True


def _has_main(prog: drgn.Program) -> bool:
    try:
        prog.main_module()
    except LookupError:
        return False
    return True


class _FileRange:
    """drgn memory reader for ``[start, …)`` backed by ``path`` from file offset ``offset``.

    The file is opened at the first read and stays open while drgn holds the reader: drgn asks
    for each piece it needs (a code read per frame, each string literal), and opening the file
    each time cost more than the reads (64 threads: ~20 ms of a snapshot)."""

    def __init__(self, path: str, offset: int, start: int) -> None:
        self.path = path
        self.offset = offset
        self.start = start
        self._fd: int | None = None

    def __call__(self, address: int, count: int, offset: int, physical: bool) -> bytes:
        try:
            if self._fd is None:
                self._fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
            data = os.pread(self._fd, count, self.offset + offset)
        except OSError as e:
            raise drgn.FaultError(f"{self.path}: {e.strerror}", address) from None
        if len(data) < count:
            raise drgn.FaultError(f"{self.path}: beyond end of file", address)
        return data

    def __del__(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
