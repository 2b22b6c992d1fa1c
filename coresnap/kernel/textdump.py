"""textdump(4): the ustar archive ddb writes instead of a memory dump (``textdump.tar.N``).

``sys/ddb/db_textdump.c`` writes these members: ``ddb.txt`` (the ddb capture buffer: what the
``kdb.enter.panic`` script ran, typically ``show pcpu``, ``bt``, ``ps``, ``alltrace``),
``msgbuf.txt`` (the kernel message buffer), ``panic.txt`` (the panic string), ``version.txt``
(the kernel's version string) and, with ``options INCLUDE_CONFIG_FILE``, ``config.txt``.
savecore may have compressed the archive (``.gz``, ``.zst``).
"""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path

import zstandard

from coresnap.errors import KernelDumpError
from coresnap.kernel.model import MAX_TEXT

MEMBERS = ("ddb.txt", "msgbuf.txt", "panic.txt", "version.txt", "config.txt")
_MAX_MEMBERS = 64


def _open(path: Path) -> tarfile.TarFile:
    if path.name.endswith(".zst"):
        with open(path, "rb") as f:
            reader = zstandard.ZstdDecompressor().stream_reader(f)
            data = reader.read(len(MEMBERS) * MAX_TEXT + 1)
        if len(data) > len(MEMBERS) * MAX_TEXT:
            raise KernelDumpError(str(path), "inflates past the size of a textdump")
        return tarfile.open(fileobj=io.BytesIO(data), mode="r:")
    return tarfile.open(path, mode="r:*")  # plain or gzip


def read_textdump(path: str | os.PathLike[str]) -> dict[str, str]:
    """The text members of a textdump (``{"ddb.txt": ..., ...}``), each cut at MAX_TEXT.

    Raises KernelDumpError for a file that is not a (compressed) tar archive.
    """
    p = Path(path)
    found: dict[str, str] = {}
    try:
        with _open(p) as tar:
            for i, member in enumerate(tar):
                if i >= _MAX_MEMBERS:
                    break
                name = os.path.basename(member.name)
                if not member.isfile() or name not in MEMBERS:
                    continue
                f = tar.extractfile(member)
                if f is not None:
                    found[name] = f.read(MAX_TEXT).decode("utf-8", errors="replace")
    except (OSError, tarfile.TarError, EOFError, zstandard.ZstdError) as e:
        raise KernelDumpError(str(p), f"not a textdump archive: {e}") from None
    if not found:
        raise KernelDumpError(str(p), f"no textdump member ({', '.join(MEMBERS)})")
    return found
