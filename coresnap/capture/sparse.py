"""Stream a pipe into a sparse file, bounded by a size limit and a free-space quota.

Zero blocks are not written: the file offset moves past them (pwrite at the next non-zero
block), so the file system leaves holes, and a final ftruncate sets the length. Cores are
mostly untouched pages, so this saves most of the disk and most of the write bandwidth.
Stdlib only.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import NamedTuple, Protocol

BLOCK = 4096  # the page size of every Linux/FreeBSD target we dump: cores are page-aligned
ZERO_RUN = 16 * BLOCK  # zeros compared at once before block by block
SAMPLE = 512  # one byte in SAMPLE tells which blocks may be all zeros (BLOCK // SAMPLE per block)
READ_SIZE = 1 << 20
CHECK_EVERY = 1 << 20  # bytes written between two quota checks (statvfs costs ~1 us)
_ZEROS = bytes(ZERO_RUN)
_ZEROS_BLOCK = bytes(BLOCK)
_ZERO_SAMPLES = bytes(BLOCK // SAMPLE)


class Readable(Protocol):
    def readinto(self, buffer: memoryview, /) -> int | None: ...


class StreamResult(NamedTuple):
    size: int  # bytes of the file (holes included)
    written: int  # bytes actually written (non-zero blocks)
    truncated: bool  # stopped at the limit with more data on the pipe
    disk_bytes: int  # st_blocks * 512 after the write


def write_runs(fd: int, data: bytes | bytearray, offset: int, start: int = 0, end: int = -1) -> int:
    """pwrite the non-zero blocks of ``data[start:end]`` at file ``offset``; return bytes written.

    Blocks are ``BLOCK`` bytes from ``start`` (the last one may be shorter); each run of
    non-zero blocks is one pwrite. No Python work per block of data: the bytes at every
    ``SAMPLE`` offset (one slice, 2 KiB of a MiB) say which blocks may be all zeros (all their
    samples are), found by ``find`` in the samples and checked in place (``startswith`` with
    bounds: memcmp speed, no slice copies); zero runs are compared 64 KiB at a time. Searching
    the data itself for a zero block ran at 2.6 GB/s on dense memory: 0.4 s per GiB of core.
    """
    end = len(data) if end < 0 else end
    view = memoryview(data)
    samples = data[start:end:SAMPLE]
    written = 0
    i = start
    while i < end:
        zero = _next_zero_block(data, samples, i, start, end)
        if zero > i:
            written += os.pwrite(fd, view[i:zero], offset + i - start)
        i = _zero_run_end(data, zero, end)
    return written


def _next_zero_block(data: bytes | bytearray, samples: bytes | bytearray, i: int, start: int,
                     end: int) -> int:  # fmt: skip
    """The first block at or after block ``i`` that is all zeros (``end`` if none); ``samples``
    is ``data[start:end:SAMPLE]``: a zero block's samples are all zeros."""
    last = end - (end - start) % BLOCK  # where a shorter last block begins (end if none)
    per = len(_ZERO_SAMPLES)
    k = (i - start) // SAMPLE  # the first sample of block i
    while True:
        found = samples.find(_ZERO_SAMPLES, k)
        if found < 0:
            break
        first = -(-found // per) * per  # the first block whose samples may all be zero
        block = start + first * SAMPLE
        if block + BLOCK > last:
            break
        if first == found and data.startswith(_ZEROS_BLOCK, block):
            return block
        k = first if first != found else first + per
    if last < end and data.startswith(_ZEROS[: end - last], last, end):
        return last
    return end


def _zero_run_end(data: bytes | bytearray, i: int, end: int) -> int:
    """Where the zeros from ``i`` stop, at a block boundary from ``i`` (``end`` at most)."""
    while i + ZERO_RUN <= end and data.startswith(_ZEROS, i):
        i += ZERO_RUN
    while i < end:
        n = min(BLOCK, end - i)
        if not data.startswith(_ZEROS[:n], i, i + n):
            break
        i += n
    return i


def stream(
    src: Readable, fd: int, limit: int, check: Callable[[int], None] | None = None
) -> StreamResult:
    """Copy ``src`` into ``fd`` sparsely, at most ``limit`` bytes.

    ``check(written)`` runs before the first write and every CHECK_EVERY written bytes; it
    raises to stop (the quota). Raises OSError from the writes (ENOSPC) and what ``check`` raises.
    No writeback is started here: the kernel waits while its pipe is read, and disk writes
    beside it slow its dump (one A/B on a 1 GiB core: 0.70 of ``cat > file``'s speed with
    writeback every 8 MiB, 0.96 without); the fsync after the pipe is let go writes the file.
    """
    buffer = bytearray(READ_SIZE)
    view = memoryview(buffer)
    filled = offset = written = since_check = 0
    truncated = False
    if check:
        check(0)
    while True:
        n = src.readinto(view[filled:])
        if not n:
            break
        filled += n
        if offset + filled >= limit:
            truncated = offset + filled > limit or bool(src.readinto(memoryview(bytearray(1))))
            filled = limit - offset
            break
        aligned = filled - filled % BLOCK
        if filled == len(buffer) or (aligned and filled - aligned < BLOCK // 2):
            w = write_runs(fd, buffer, offset, 0, aligned)
            written += w
            since_check += w
            offset += aligned
            view[: filled - aligned] = view[aligned:filled]
            filled -= aligned
            if check and since_check >= CHECK_EVERY:
                check(written)
                since_check = 0
    written += write_runs(fd, buffer, offset, 0, filled)
    offset += filled
    os.ftruncate(fd, offset)
    if check:
        check(written)
    return StreamResult(offset, written, truncated, os.fstat(fd).st_blocks * 512)
