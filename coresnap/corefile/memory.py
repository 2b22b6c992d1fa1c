"""Read the dumped process's memory: ``PT_LOAD`` data first, then the mapped files on disk.

The rules, per address (the kernel's ``fs/binfmt_elf.c`` decides what is dumped):

1. inside ``[p_vaddr, p_vaddr + available)``: the core's bytes;
2. past ``p_filesz`` (the kernel did not dump the page, typically unmodified file-backed text)
   or in a truncated segment's lost tail when the mapping is read-only: the mapped file on disk
   (``NT_FILE``/VMMAP path, remapped under ``sysroot``), at the mapping's file offset;
3. past ``p_filesz`` of a segment with ``p_filesz > 0`` that no file backs: zeros (gABI: the
   bytes between ``p_filesz`` and ``p_memsz`` are zero). A file-backed one whose file is not
   readable here is unavailable: the kernel left the rest to the file, zeros would lie;
4. anything else raises :class:`~coresnap.errors.MemoryUnavailable` naming the first missing
   range and why (a ``p_filesz == 0`` segment was *not dumped*: reading it as zeros would lie).
"""

from __future__ import annotations

import bisect
import os
import stat
import struct
from collections import OrderedDict
from collections.abc import Mapping as MappingABC
from typing import Literal

from coresnap.corefile.model import Mapping, Segment
from coresnap.corefile.reader import CoreReader
from coresnap.errors import MemoryUnavailable

Source = Literal["core", "file", "zero"]
MAX_READ = 256 << 20  # one read() never allocates more than this
_MAX_OPEN_FILES = 32
_NO_FILE = "no mapped file"


class AddressSpace:
    """The memory of the dumped process. ``close()`` releases the mapped files it opened."""

    def __init__(
        self,
        reader: CoreReader,
        segments: list[Segment],
        mappings: list[Mapping],
        *,
        byteorder: str = "<",
        sysroot: str | None = None,
        path_map: MappingABC[str, str] | None = None,
    ) -> None:
        self._reader = reader
        self._segments = sorted((s for s in segments if s.p_memsz), key=lambda s: s.p_vaddr)
        self._seg_starts = [s.p_vaddr for s in self._segments]
        self._mappings = sorted(mappings, key=lambda m: m.start)
        self._map_starts = [m.start for m in self._mappings]
        self.byteorder = byteorder
        self.sysroot = sysroot
        self.path_map = dict(path_map or {})
        self._files: OrderedDict[str, int | None] = OrderedDict()

    def local_path(self, path: str) -> str:
        """Where ``path`` (as the core names it) is read on this machine."""
        if path in self.path_map:
            return self.path_map[path]
        if self.sysroot:
            return os.path.join(self.sysroot, path.lstrip("/"))
        return path

    def find_segment(self, address: int) -> Segment | None:
        """The PT_LOAD containing ``address`` (the later-starting one when they overlap)."""
        i = bisect.bisect_right(self._seg_starts, address) - 1
        for seg in self._segments[max(0, i - 8) : i + 1][::-1]:
            if seg.p_vaddr <= address < seg.end:
                return seg
        return None

    def segment_starts_before(self, address: int, limit: int) -> list[int]:
        """Start addresses of up to ``limit`` PT_LOADs starting at or below ``address``,
        nearest first (where an ELF header may lie below a known address)."""
        i = bisect.bisect_right(self._seg_starts, address)
        return self._seg_starts[max(0, i - limit) : i][::-1]

    def find_mapping(self, address: int) -> Mapping | None:
        """The mapping (file-backed or anonymous) containing ``address``, if any."""
        i = bisect.bisect_right(self._map_starts, address) - 1
        for m in self._mappings[max(0, i - 8) : i + 1][::-1]:
            if m.start <= address < m.end:
                return m
        return None

    def is_mapped(self, address: int) -> bool:
        """True when the process had ``address`` mapped (whether or not it was dumped)."""
        return self.find_segment(address) is not None or self.find_mapping(address) is not None

    def read(self, address: int, size: int, *, files: bool = True) -> bytes:
        """``size`` bytes at ``address``; with ``files=False`` only what the core holds.

        Raises MemoryUnavailable for the first range that neither the core nor a file holds.
        """
        if size < 0 or size > MAX_READ or address < 0:
            raise MemoryUnavailable(address, max(size, 0), f"read of {size} bytes refused")
        parts, at, left = [], address, size
        while left > 0:
            data, _ = self._piece(at, left, files)
            parts.append(data)
            at += len(data)
            left -= len(data)
        return b"".join(parts)

    def source(self, address: int) -> Source | None:
        """Where the byte at ``address`` comes from ("core", "file", "zero"), None if nowhere."""
        try:
            return self._piece(address, 1, True)[1]
        except MemoryUnavailable:
            return None

    def read_cstring(self, address: int, limit: int = 4096) -> bytes:
        """The bytes at ``address`` up to a NUL (excluded), at most ``limit`` of them.

        Raises MemoryUnavailable if the first byte cannot be read; stops early at a hole.
        """
        out = bytearray()
        while len(out) < limit:
            try:
                data, _ = self._piece(address + len(out), min(256, limit - len(out)), True)
            except MemoryUnavailable:
                if not out:
                    raise
                break
            nul = data.find(b"\0")
            if nul >= 0:
                out += data[:nul]
                return bytes(out)
            out += data
        return bytes(out[:limit])

    def read_u64(self, address: int) -> int:
        """An unsigned 64-bit word in the core's byte order; raises MemoryUnavailable."""
        return int(struct.unpack(self.byteorder + "Q", self.read(address, 8))[0])

    def read_u32(self, address: int) -> int:
        """An unsigned 32-bit word in the core's byte order; raises MemoryUnavailable."""
        return int(struct.unpack(self.byteorder + "I", self.read(address, 4))[0])

    def _piece(self, address: int, size: int, files: bool) -> tuple[bytes, Source]:
        seg = self.find_segment(address)
        if seg is None:
            nxt = bisect.bisect_right(self._seg_starts, address)
            gap = self._seg_starts[nxt] - address if nxt < len(self._segments) else size
            if files:
                data = self._from_file(address, min(size, gap))
                if isinstance(data, bytes):
                    return data, "file"
            raise MemoryUnavailable(address, min(size, gap), "not mapped in the process")
        off = address - seg.p_vaddr
        if off < seg.available:
            n = min(size, seg.available - off)
            return self._reader.pread(seg.p_offset + off, n), "core"
        n = min(size, seg.end - address)
        truncated = off < seg.p_filesz
        if truncated and seg.p_flags & 2:
            raise MemoryUnavailable(address, n, "lost: the core file is truncated")
        data = self._from_file(address, n) if files else "files not consulted"
        if isinstance(data, bytes):
            return data, "file"
        if not truncated and seg.p_filesz > 0 and data == _NO_FILE:
            return bytes(n), "zero"
        why = "lost: the core file is truncated" if truncated else "not dumped in the core"
        raise MemoryUnavailable(address, n, f"{why}; {data}")

    def _from_file(self, address: int, size: int) -> bytes | str:
        """Bytes from the mapped file, or why there are none."""
        m = self.find_mapping(address)
        if m is None or not m.path:
            return _NO_FILE
        n = min(size, m.end - address)
        local = self.local_path(m.path)
        fd = self._open(local)
        if fd is None:
            return f"{local} is not readable"
        data = os.pread(fd, n, m.file_offset + (address - m.start))
        if not data:
            return f"past the end of {local}"
        return data

    def _open(self, path: str) -> int | None:
        if path in self._files:
            self._files.move_to_end(path)
            return self._files[path]
        fd: int | None = None
        try:
            # O_NONBLOCK: a hostile core may name a FIFO; only regular files are read.
            fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                os.close(fd)
                fd = None
        except OSError:
            fd = None
        self._files[path] = fd
        if len(self._files) > _MAX_OPEN_FILES:
            _, old = self._files.popitem(last=False)
            if old is not None:
                os.close(old)
        return fd

    def close(self) -> None:
        """Close the mapped files opened for fallback reads."""
        for fd in self._files.values():
            if fd is not None:
                os.close(fd)
        self._files.clear()
