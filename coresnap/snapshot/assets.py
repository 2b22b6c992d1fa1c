"""Read the asset directory or tar captured at crash time (layout: docs/snapshot-format.md).

Every file is optional and read with a size bound; a missing or unreadable file is simply a
fact the snapshot does not have. Nothing here interprets the files: :mod:`.system` does.
"""

from __future__ import annotations

import json
import os
import tarfile
from pathlib import Path
from typing import Any

from coresnap.errors import AssetError

MAX_ASSET_FILE = 1 << 20  # bytes read of one asset file
_NAMES = (
    "metadata.json",
    "proc/status",
    "proc/cmdline",
    "proc/environ",
    "proc/maps",
    "proc/cwd",
    "proc/exe",
    "proc/stat",
    "meminfo",
    "loadavg",
    "uname",
    "os-release",
    "boot_id",
    "uptime",
    "hostname",
)


def read_assets(source: str | os.PathLike[str]) -> dict[str, bytes]:
    """The known asset files of a directory or tar, by their layout name.

    Raises:
        AssetError: ``source`` is neither a readable directory nor a readable tar.
    """
    path = Path(source)
    if path.is_dir():
        return _from_dir(path)
    try:
        with tarfile.open(path) as tar:
            return _from_tar(tar)
    except (OSError, tarfile.TarError) as e:
        raise AssetError(str(path), str(e)) from None


def _from_dir(root: Path) -> dict[str, bytes]:
    found = {}
    for name in _NAMES:
        try:
            with open(root / name, "rb") as f:
                found[name] = f.read(MAX_ASSET_FILE)
        except OSError:
            continue
    return found


def _from_tar(tar: tarfile.TarFile) -> dict[str, bytes]:
    found = {}
    for member in tar.getmembers():
        name = member.name.removeprefix("./")
        if name not in _NAMES or not member.isfile():
            continue
        f = tar.extractfile(member)
        if f is not None:
            found[name] = f.read(MAX_ASSET_FILE)
    return found


def metadata(assets: dict[str, bytes]) -> dict[str, Any]:
    """``metadata.json`` as a dict ({} when absent or not a JSON object)."""
    try:
        data = json.loads(assets.get("metadata.json", b"{}"))
    except (ValueError, UnicodeDecodeError):
        return {}
    return data if isinstance(data, dict) else {}


def text(assets: dict[str, bytes], name: str) -> str | None:
    """An asset file as text (stripped), or None."""
    raw = assets.get(name)
    return None if raw is None else raw.decode("utf-8", errors="replace").strip()
