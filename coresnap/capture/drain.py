"""Read and drop bytes of a core's stream, without copying them into Python when the kernel can
move them: ``splice(2)`` from the kernel's pipe straight into /dev/null, or from the coredump
socket through a pipe of our own. A minicore drops most of a big core, so this is most of the
work of reading it. Stdlib only.
"""

from __future__ import annotations

import os
import stat

from coresnap.capture.sparse import Readable

SPLICE_MAX = 1 << 20  # bytes moved by one splice call


def _fileno(src: Readable) -> int | None:
    try:
        return int(src.fileno())  # type: ignore[attr-defined]
    except (AttributeError, OSError, ValueError):
        return None  # an in-memory stream (a replay): read it


class Drain:
    """Drops bytes of ``src``; ``scratch`` is the buffer read into where splice cannot serve."""

    def __init__(self, src: Readable, scratch: memoryview) -> None:
        self.src, self.scratch = src, scratch
        self.fd = _fileno(src) if hasattr(os, "splice") else None
        self.null = self.relay = None
        if self.fd is not None:
            self.null = os.open(os.devnull, os.O_WRONLY | os.O_CLOEXEC)
            if not stat.S_ISFIFO(os.fstat(self.fd).st_mode):
                self.relay = os.pipe()

    def drop(self, n: int) -> int:
        """Read and drop up to ``n`` bytes; returns how many (fewer only at the end)."""
        done = 0
        while done < n:
            moved = self._splice(n - done) if self.fd is not None else -1
            if moved < 0:
                moved = self.src.readinto(self.scratch[: min(len(self.scratch), n - done)]) or 0
            if moved == 0:
                break
            done += moved
        return done

    def _splice(self, n: int) -> int:
        """Bytes spliced away (0 at the end), or -1 when splice cannot serve (then reads do)."""
        assert self.fd is not None and self.null is not None
        try:
            if self.relay is None:
                return os.splice(self.fd, self.null, min(n, SPLICE_MAX))
            moved = os.splice(self.fd, self.relay[1], min(n, SPLICE_MAX))
            left = moved
            while left:
                left -= os.splice(self.relay[0], self.null, left)
            return moved
        except OSError:
            self.close()
            return -1

    def close(self) -> None:
        for fd in (self.null, *(self.relay or ())):
            if fd is not None:
                os.close(fd)
        self.fd = self.null = self.relay = None
