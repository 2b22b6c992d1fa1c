"""Bounded decompression of uploads: one zstd frame, a size limit, a budget shared by uploads.

A few KB of zstd can inflate to gigabytes, and the JSON parsed from them costs several times
their size again. So an upload's decompressed size is bounded three ways before its JSON is
parsed:

1. the frame's declared content size (zstd's frame header) over the limit refuses it at once;
2. decompression streams in chunks and stops at ``limit + 1`` bytes whatever the header said;
3. every upload holds its share of one process-wide :class:`Budget` of decompressed bytes (the
   declared size, else the limit) from before it decompresses until its request is done: many
   concurrent bombs wait for each other (and get 503 ``busy`` after a while) instead of adding up.

A body is exactly one frame: bytes after it (a second frame, a skippable frame, garbage) are
refused, since the blob store keeps the body as sent and a download would inflate them too.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import io
import threading
import time
from collections.abc import Iterator

import zstandard

from coresnap.errors import InvalidSnapshot, PayloadTooLarge, StoreBusy

ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
_CHUNK = 1 << 20
# zstd's format (RFC 8878 3.1.1.2): a block header is 3 bytes, little-endian: Last_Block (bit
# 0), Block_Type (bits 1-2: raw, RLE, compressed, reserved), Block_Size (bits 3-23); an RLE
# block's content is one byte whatever its size. The frame header descriptor's bit 2 says a
# 4-byte checksum follows the last block.
_RLE, _RESERVED = 1, 3
_CHECKSUM_FLAG = 0x04
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


def declared_size(body: bytes, limit: int) -> int:
    """The bytes ``body`` will take once decompressed, as far as can be told before: the zstd
    frame's declared content size, else ``limit`` (bare JSON: its length). Raises
    PayloadTooLarge when the frame declares more than ``limit``, InvalidSnapshot for a bad
    frame header."""
    if not body.startswith(ZSTD_MAGIC):
        return len(body)
    try:
        declared = zstandard.frame_content_size(body)
    except zstandard.ZstdError as e:
        raise InvalidSnapshot(f"zstd frame header: {e}") from e
    if declared > limit:
        raise PayloadTooLarge("decompressed snapshot (declared in its zstd frame)", limit)
    return limit if declared < 0 else declared


def inflate(body: bytes, limit: int) -> bytes | bytearray:
    """The decompressed content of ``body`` (one zstd frame; anything else is returned as is),
    at most ``limit`` bytes. Raises PayloadTooLarge past ``limit`` (decompression stops there)
    and InvalidSnapshot for a corrupt frame or bytes after it."""
    if not body.startswith(ZSTD_MAGIC):
        return body
    end = frame_end(body, limit)
    if end != len(body):
        raise InvalidSnapshot(
            f"zstd: {len(body) - end} bytes after the snapshot's frame (offset {end}): "
            "one frame per upload"
        )
    out = bytearray()
    try:
        with zstandard.ZstdDecompressor().stream_reader(io.BytesIO(body)) as reader:
            while chunk := reader.read(min(_CHUNK, limit + 1 - len(out))):
                out += chunk
                if len(out) > limit:
                    raise PayloadTooLarge("decompressed snapshot", limit)
    except zstandard.ZstdError as e:
        raise InvalidSnapshot(f"zstd: {e}") from e
    return out  # not copied to bytes: json.loads reads a bytearray


def frame_end(body: bytes, limit: int) -> int:
    """The offset just past the zstd frame at the start of ``body``, without decompressing it
    (block headers only); raises InvalidSnapshot for a malformed frame, or one of more blocks
    than ``limit`` decompressed bytes could need (empty blocks by the hundred thousand)."""
    try:
        pos = zstandard.frame_header_size(body)
    except zstandard.ZstdError as e:
        raise InvalidSnapshot(f"zstd frame header: {e}") from e
    checksum = body[4] & _CHECKSUM_FLAG
    most = limit // 64 + 1024  # a real encoder writes blocks of up to 128 KiB
    view = memoryview(body)
    for _ in range(most):
        if pos + 3 > len(body):
            raise InvalidSnapshot(f"zstd: block header cut at offset {pos}")
        header = int.from_bytes(view[pos : pos + 3], "little")
        kind, size = (header >> 1) & 3, header >> 3
        if kind == _RESERVED:
            raise InvalidSnapshot(f"zstd: reserved block type at offset {pos}")
        pos += 3 + (1 if kind == _RLE else size)
        if header & 1:
            return pos + (4 if checksum else 0)
    raise InvalidSnapshot(f"zstd: more than {most} blocks in one frame")
