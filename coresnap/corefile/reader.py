"""Bounded reads over a core file: the one place where short reads become ``CoreFormatError``.

Everything above this module asks for ``(offset, size, what)`` and either gets exactly ``size``
bytes or a :class:`~coresnap.errors.CoreFormatError` naming the file offset and ``what`` was
being read. Sizes are checked against the file size *before* anything is allocated, so a
hostile header cannot make us allocate gigabytes.

Public helpers for note decoders (Linux here, FreeBSD/NetBSD in their own modules):

- :func:`unpack_from` ``(fmt, data, offset, what, base_offset=0) -> tuple``: unpack a struct
  from note desc bytes; a short desc raises ``CoreFormatError(base_offset + offset, what)``,
  where ``base_offset`` is the file offset of ``data`` (for a note: ``note_desc_offset(note)``).
- :func:`cstring` ``(data) -> str``: a NUL-terminated, fixed-size char array as text.
- :func:`words` ``(data, width, order) -> list[int]``: ``data`` as unsigned words.
"""

from __future__ import annotations

import os
import stat
import struct
from functools import lru_cache
from types import TracebackType

from coresnap.errors import CoreFileUnreadable, CoreFormatError

# A note segment is read whole (notes are parsed from memory); the kernel writes a few KiB per
# thread, so even 10,000 threads stay far below this. Beyond it the core is not one we trust.
MAX_NOTE_SEGMENT = 256 << 20


@lru_cache(maxsize=256)
def _struct(fmt: str) -> struct.Struct:
    return struct.Struct(fmt)


def unpack_from(
    fmt: str | struct.Struct, data: bytes, offset: int, what: str, base_offset: int = 0
) -> tuple[int, ...]:
    """Unpack ``fmt`` at ``offset`` of ``data``.

    Raises CoreFormatError(base_offset + offset, what) when ``data`` is too short.
    """
    s = fmt if isinstance(fmt, struct.Struct) else _struct(fmt)
    if offset < 0 or offset + s.size > len(data):
        raise CoreFormatError(
            base_offset + offset, f"{what}: needs {s.size} bytes, only {len(data) - offset} left"
        )
    return s.unpack_from(data, offset)


def cstring(data: bytes) -> str:
    """A fixed-size, NUL-padded char array (pr_fname, pr_psargs) as text."""
    return data.split(b"\0", 1)[0].decode("utf-8", errors="replace")


def words(data: bytes, width: int, order: str) -> list[int]:
    """``data`` as unsigned words of ``width`` bytes (4 or 8); a partial last word is ignored."""
    code = {2: "H", 4: "I", 8: "Q"}[width]
    count = len(data) // width
    return list(struct.unpack_from(f"{order}{count}{code}", data, 0)) if count else []


class CoreReader:
    """Bounded reads over one open file; ``size`` is the file size at open time.

    Raises CoreFileUnreadable when the path is missing, not a regular file or not readable.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = str(path)
        try:
            fd = os.open(self.path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        except OSError as e:
            raise CoreFileUnreadable(self.path, e.strerror or str(e)) from None
        try:
            st = os.fstat(fd)
        except OSError as e:
            os.close(fd)
            raise CoreFileUnreadable(self.path, e.strerror or str(e)) from None
        if not stat.S_ISREG(st.st_mode):
            os.close(fd)
            raise CoreFileUnreadable(self.path, "not a regular file")
        self._fd: int | None = fd
        self.size = st.st_size

    def error(self, offset: int, what: str) -> CoreFormatError:
        """A CoreFormatError for this file (callers ``raise reader.error(...)``)."""
        return CoreFormatError(offset, what, self.path)

    def read(self, offset: int, size: int, what: str) -> bytes:
        """Exactly ``size`` bytes at ``offset``; raises CoreFormatError if the file is shorter."""
        if offset < 0 or size < 0 or offset + size > self.size:
            raise self.error(
                offset,
                f"{what}: {size} bytes at {offset:#x} run past the end of the file "
                f"({self.size:#x} bytes)",
            )
        data = self.pread(offset, size)
        if len(data) != size:
            raise self.error(offset, f"{what}: short read ({len(data)} of {size} bytes)")
        return data

    def pread(self, offset: int, size: int) -> bytes:
        """Up to ``size`` bytes at ``offset`` (fewer at the end of the file); no checks."""
        if self._fd is None:
            raise ValueError("read from a closed core")
        size = max(0, min(size, self.size - offset))
        chunks = []
        while size > 0:
            chunk = os.pread(self._fd, size, offset)
            if not chunk:
                break
            chunks.append(chunk)
            offset += len(chunk)
            size -= len(chunk)
        return b"".join(chunks)

    def unpack(self, s: struct.Struct, offset: int, what: str) -> tuple[int, ...]:
        """Unpack ``s`` at file ``offset``; raises CoreFormatError when the file is too short."""
        return s.unpack(self.read(offset, s.size, what))

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> CoreReader:
        return self

    def __exit__(
        self, t: type[BaseException] | None, v: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
