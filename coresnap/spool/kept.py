"""A kept core's bytes: ``committed/<id>.core`` as written, or ``committed/<id>.core.zst`` (one
zstd stream, written by retention's ``compress`` policy). The one writer and the one reader of
the compressed form: retention compresses, ``coresnap dump`` and ``coresnap gdb`` read.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import BinaryIO

import zstandard

from coresnap.spool.stages import CORE_KEPT_ZST

_CHUNK = 1 << 20


def compress(core: Path, dst: BinaryIO) -> None:
    """Write ``core`` to ``dst`` as the compressed kept form (zstd level 3, all cores)."""
    with open(core, "rb") as src:
        zstandard.ZstdCompressor(level=3, threads=0).copy_stream(src, dst)


def is_compressed(path: Path) -> bool:
    return path.name.endswith(CORE_KEPT_ZST) or path.suffix == ".zst"


def copy(path: Path, dst: BinaryIO) -> None:
    """Write the plain core kept at ``path`` to ``dst``, inflating the compressed form."""
    with open(path, "rb") as src:
        if is_compressed(path):
            zstandard.ZstdDecompressor().copy_stream(src, dst, write_size=_CHUNK)
        else:
            shutil.copyfileobj(src, dst, _CHUNK)


def plain_name(path: Path) -> str:
    """The kept core's file name without the compression suffix."""
    return path.name[: -len(".zst")] if is_compressed(path) else path.name
