"""A snapshot's compression: exactly one zstd frame, inflated within a size limit.

The one reader of compressed snapshots, for the host (``format.decode``: files this host or
another one wrote) and for coronerd (uploads, where a few KB of zstd can inflate to gigabytes).
Its size is bounded before anything is parsed:

1. the frame's declared content size (zstd's frame header) over the limit refuses it at once;
2. decompression streams in chunks and stops at ``limit + 1`` bytes whatever the header said.

A snapshot is exactly one frame: bytes after it (a second frame, a skippable frame, garbage) are
refused, since whoever keeps the bytes as sent (coronerd's blob store, a spool) would inflate
them too on the next read. Bytes without zstd's magic number are bare JSON and are returned as
they are (``coresnap snapshot --json`` writes such files).

Errors are :class:`SnapshotFormatError` (``SnapshotTooLarge`` past the limit); coronerd turns
them into its HTTP answers (413 and 400).
"""

from __future__ import annotations

import io

import zstandard

from coresnap.errors import SnapshotFormatError, SnapshotTooLarge

# zstd frame magic (RFC 8878, 3.1.1): 0xFD2FB528 little-endian.
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
# The level snapshots are written at: small files (they travel), a few ms for a snapshot.
LEVEL = 10
_CHUNK = 1 << 20
# zstd's format (RFC 8878 3.1.1.2): a block header is 3 bytes, little-endian: Last_Block (bit
# 0), Block_Type (bits 1-2: raw, RLE, compressed, reserved), Block_Size (bits 3-23); an RLE
# block's content is one byte whatever its size. The frame header descriptor's bit 2 says a
# 4-byte checksum follows the last block.
_RLE, _RESERVED = 1, 3
_CHECKSUM_FLAG = 0x04


def compress(data: bytes, level: int = LEVEL) -> bytes:
    """``data`` as one zstd frame (its content size declared in the frame header)."""
    return zstandard.ZstdCompressor(level=level).compress(data)


def declared_size(data: bytes, limit: int, path: str | None = None) -> int:
    """The bytes ``data`` will take once inflated, as far as can be told before: the frame's
    declared content size, else ``limit`` (bare JSON: its length).

    Raises:
        SnapshotTooLarge: the frame declares more than ``limit``.
        SnapshotFormatError: a bad frame header.
    """
    if not data.startswith(ZSTD_MAGIC):
        return len(data)
    try:
        declared = zstandard.frame_content_size(data)
    except zstandard.ZstdError as e:
        raise SnapshotFormatError(path, f"zstd frame header: {e}") from e
    if declared > limit:
        raise SnapshotTooLarge(path, "decompressed snapshot (declared in its zstd frame)", limit)
    return limit if declared < 0 else declared


def inflate(data: bytes, limit: int, path: str | None = None) -> bytes | bytearray:
    """The content of ``data`` (one zstd frame; bare JSON is returned as is), at most ``limit``
    bytes; decompression stops there.

    Raises:
        SnapshotTooLarge: over ``limit`` bytes once inflated.
        SnapshotFormatError: a corrupt frame, or bytes after it.
    """
    if not data.startswith(ZSTD_MAGIC):
        if len(data) > limit:
            raise SnapshotTooLarge(path, "decompressed snapshot", limit)
        return data
    declared_size(data, limit, path)
    end = frame_end(data, limit, path)
    if end != len(data):
        raise SnapshotFormatError(
            path,
            f"zstd: {len(data) - end} bytes after the snapshot's frame (offset {end}): "
            "one frame per snapshot",
        )
    out = bytearray()
    try:
        with zstandard.ZstdDecompressor().stream_reader(io.BytesIO(data)) as reader:
            while chunk := reader.read(min(_CHUNK, limit + 1 - len(out))):
                out += chunk
                if len(out) > limit:
                    raise SnapshotTooLarge(path, "decompressed snapshot", limit)
    except zstandard.ZstdError as e:
        raise SnapshotFormatError(path, f"zstd: {e}") from e
    return out  # not copied to bytes: json.loads reads a bytearray


def frame_end(data: bytes, limit: int, path: str | None = None) -> int:
    """The offset just past the zstd frame at the start of ``data``, without inflating it
    (block headers only).

    Raises:
        SnapshotFormatError: a malformed frame, or one of more blocks than ``limit`` inflated
            bytes could need (empty blocks by the hundred thousand).
    """
    try:
        pos = zstandard.frame_header_size(data)
    except zstandard.ZstdError as e:
        raise SnapshotFormatError(path, f"zstd frame header: {e}") from e
    checksum = data[4] & _CHECKSUM_FLAG
    most = limit // 64 + 1024  # a real encoder writes blocks of up to 128 KiB
    view = memoryview(data)
    for _ in range(most):
        if pos + 3 > len(data):
            raise SnapshotFormatError(path, f"zstd: block header cut at offset {pos}")
        header = int.from_bytes(view[pos : pos + 3], "little")
        kind, size = (header >> 1) & 3, header >> 3
        if kind == _RESERVED:
            raise SnapshotFormatError(path, f"zstd: reserved block type at offset {pos}")
        pos += 3 + (1 if kind == _RLE else size)
        if header & 1:
            return pos + (4 if checksum else 0)
    raise SnapshotFormatError(path, f"zstd: more than {most} blocks in one frame")
