"""A budget of decompressed bytes shared by the uploads in progress.

A few KB of zstd can inflate to gigabytes, and the JSON parsed from them costs several times
their size again. The snapshot's own reader (:mod:`coresnap.snapshot.compression`) bounds one
upload (its declared size checked first, decompression stopped at the limit, one frame only);
this bounds them all: every upload holds its share of one process-wide :class:`Budget` (the
declared size, else the limit) from before it decompresses until its request is done, so many
concurrent bombs wait for each other (and get 503 ``busy`` after a while) instead of adding up.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import threading
import time
from collections.abc import Iterator

from coresnap.errors import StoreBusy

# Uploads holding at least this much give freed memory back to the system when they end.
_TRIM_FROM = 1 << 20


def _libc_trim() -> object:
    # glibc keeps what a thread freed in that thread's arena: the parse of a big upload on each
    # of the server's threads in turn would keep each thread's peak resident. malloc_trim(0)
    # returns free pages of every arena (glibc only: elsewhere there is nothing to call).
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
    except (OSError, AttributeError):
        return None


_MALLOC_TRIM = _libc_trim()


class Budget:
    """Decompressed bytes that uploads in progress may hold, shared by the process's threads."""

    def __init__(self, total: int, wait: float) -> None:
        self.total = total
        self.wait = wait
        self.used = 0
        self.peak = 0
        self._cond = threading.Condition()

    @contextlib.contextmanager
    def hold(self, size: int) -> Iterator[None]:
        """Hold ``size`` bytes of the budget for the ``with`` block; raises StoreBusy when they
        are not free within ``wait`` seconds (an upload larger than the whole budget waits for
        the budget to be empty and then runs alone)."""
        size = min(size, self.total)
        deadline = time.monotonic() + self.wait
        with self._cond:
            while self.used + size > self.total:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise StoreBusy("decompression budget", self.wait)
                self._cond.wait(left)
            self.used += size
            self.peak = max(self.peak, self.used)
        try:
            yield
        finally:
            if size >= _TRIM_FROM and callable(_MALLOC_TRIM):
                _MALLOC_TRIM(0)
            with self._cond:
                self.used -= size
                self._cond.notify_all()
