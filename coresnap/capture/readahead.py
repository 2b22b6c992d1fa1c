"""Read the crashed process's memory ahead of the pipe, for :mod:`.keep`. Stdlib only.

:class:`ProcMemory` reads ``/proc/<pid>/mem``: while the kernel dumps a process, its address
space stays whole (the dumping thread holds it until the pipe handler exits when
``core_pipe_limit`` > 0), and root (the pipe handler, or a socket receiver with
CAP_SYS_PTRACE) may read it. :class:`CoreMemory` reads a core file already on disk, so that a
minicore can be cut from a saved core (replays and tests) exactly as from the pipe.
"""

from __future__ import annotations

import bisect
import os
import struct

from coresnap.capture.corestream import EHDR_SIZE, PHDR_SIZE, PT_LOAD

MAX_READ = 64 << 20


class ProcMemory:
    """``/proc/<pid>/mem``; :meth:`read` returns None where the process has no memory."""

    def __init__(self, pid: int) -> None:
        self.fd = os.open(f"/proc/{pid}/mem", os.O_RDONLY | os.O_CLOEXEC)

    @classmethod
    def open(cls, pid: int) -> ProcMemory | None:
        """The read-ahead of ``pid``, or None when /proc/<pid>/mem cannot be opened."""
        try:
            return cls(pid)
        except OSError:
            return None

    def read(self, address: int, size: int) -> bytes | None:
        if size <= 0 or size > MAX_READ or address < 0:
            return None
        try:
            return os.pread(self.fd, size, address)
        except (OSError, OverflowError):
            return None

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


class CoreMemory:
    """The ``PT_LOAD`` data of a 64-bit core file on disk, by address.

    Raises OSError if the file cannot be read and ValueError if it is not such a core.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        head = os.pread(self.fd, EHDR_SIZE, 0)
        if head[:4] != b"\x7fELF" or head[4] != 2:
            os.close(self.fd)
            raise ValueError(f"{path}: not a 64-bit ELF core")
        order = "<" if head[5] == 1 else ">"
        (phoff,) = struct.unpack_from(order + "Q", head, 32)
        (phnum,) = struct.unpack_from(order + "H", head, 56)
        table = os.pread(self.fd, phnum * PHDR_SIZE, phoff)
        loads = []
        for i in range(len(table) // PHDR_SIZE):
            p_type, _f, off, vaddr, _pa, filesz = struct.unpack_from(order + "IIQQQQ", table,
                                                                     i * PHDR_SIZE)  # fmt: skip
            if p_type == PT_LOAD and filesz:
                loads.append((vaddr, filesz, off))
        loads.sort()
        self.loads = loads
        self.starts = [v for v, _, _ in loads]

    def read(self, address: int, size: int) -> bytes | None:
        i = bisect.bisect_right(self.starts, address) - 1
        if i < 0 or size <= 0 or size > MAX_READ:
            return None
        vaddr, filesz, offset = self.loads[i]
        if address >= vaddr + filesz:
            return None
        n = min(size, vaddr + filesz - address)
        return os.pread(self.fd, n, offset + address - vaddr)

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
