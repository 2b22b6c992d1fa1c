"""The asset tar ``assets/<id>`` and its ``metadata.json``: the one module that writes and
reads them (schema: docs/assets.md). Stdlib only: the archive tool writes through it.

Writers: the archive tool (``coresnap-archive``, :mod:`coresnap.capture.archive`), devd's
companion (:mod:`coresnap.capture.devd`) and ``coresnap kernel-import``
(:mod:`coresnap.kernel.capture`) collect the members and the metadata and :func:`publish` them.
Readers: the snapshot builder (:func:`read_assets`, ``--resource`` takes a directory of the
same layout too), coresnapd and ``coresnap list``/``info`` (:func:`read_metadata`), coresnapd's
metrics (:func:`read_member`: ``boot_id``).

Tar members, ``metadata.json`` first so readers find it without scanning:

- ``metadata.json``: ``format`` (:data:`FORMAT`), ``version`` (:data:`VERSION`), ``id``, every
  core_pattern field, what the writer did (docs/assets.md lists the keys of each writer);
- ``proc/cmdline``, ``proc/status``, ``proc/maps``, ``proc/limits``, ``proc/cgroup``,
  ``proc/stat``, ``proc/environ`` (NUL-separated, allow-listed, scrubbed), ``proc/cwd``,
  ``proc/exe`` (link targets as text);
- ``meminfo``, ``loadavg``, ``os-release``, ``boot_id``, ``uptime``, ``hostname``, ``uname``
  (JSON of os.uname()); a kernel dump's texts under ``kernel/``.
"""

from __future__ import annotations

import io
import json
import os
import tarfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from coresnap.errors import AssetError
from coresnap.spool.stages import Spool, Stage

METADATA = "metadata.json"
FORMAT = "coresnap-archive-metadata"
VERSION = 1
MAX_ASSET_FILE = 1 << 20  # bytes read of one asset file
MEMBERS = (  # the members read_assets reads (the snapshot needs no others)
    METADATA,
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
    for name in MEMBERS:
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
        if name not in MEMBERS or not member.isfile():
            continue
        f = tar.extractfile(member)
        if f is not None:
            found[name] = f.read(MAX_ASSET_FILE)
    return found


def metadata(assets: dict[str, bytes]) -> dict[str, Any]:
    """``metadata.json`` as a dict ({} when absent or not a JSON object)."""
    try:
        data = json.loads(assets.get(METADATA, b"{}"))
    except (ValueError, UnicodeDecodeError):
        return {}
    return data if isinstance(data, dict) else {}


def text(assets: dict[str, bytes], name: str) -> str | None:
    """An asset file as text (stripped), or None."""
    raw = assets.get(name)
    return None if raw is None else raw.decode("utf-8", errors="replace").strip()


def write_tar(fd: int, members: Mapping[str, bytes], metadata: dict, mode: int) -> None:
    """Write ``metadata.json`` then ``members`` as a tar into the open file ``fd``."""
    now = time.time()
    with os.fdopen(os.dup(fd), "wb") as out, tarfile.open(fileobj=out, mode="w") as tar:
        items = [(METADATA, json.dumps(metadata, indent=1, sort_keys=True).encode())]
        for name, data in [*items, *members.items()]:
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), mode, now
            tar.addfile(info, io.BytesIO(data))


def publish(
    spool: Spool,
    dump_id: str,
    members: Mapping[str, bytes],
    metadata: dict,
    *,
    mode: int,
    uid: int,
    gid: int,
) -> None:
    """Write ``members`` and ``metadata`` as the tar ``assets/<dump_id>``: built in staging
    (owner and mode set before anyone can see it), then renamed in; nothing left on failure."""
    temp = spool.staging_path(dump_id, "assets")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    try:
        write_tar(fd, members, metadata, mode)
        os.fchown(fd, uid, gid)
        os.fchmod(fd, mode)
    except OSError:
        os.close(fd)
        temp.unlink(missing_ok=True)
        raise
    os.close(fd)
    spool.publish(temp, Stage.ASSETS, dump_id)


def read_metadata(path: str | os.PathLike[str]) -> dict:
    """``metadata.json`` of the asset tar at ``path``. Raises OSError, tarfile.TarError, KeyError,
    ValueError."""
    with tarfile.open(Path(path), "r") as tar:
        member = tar.extractfile(METADATA)
        if member is None:
            raise KeyError(METADATA)
        return json.loads(member.read())


def read_member(path: str | os.PathLike[str], name: str, limit: int = MAX_ASSET_FILE) -> bytes:
    """The first ``limit`` bytes of member ``name`` of the asset tar at ``path``. Raises OSError,
    tarfile.TarError, KeyError."""
    with tarfile.open(Path(path), "r") as tar:
        member = tar.extractfile(name)
        if member is None:
            raise KeyError(name)
        return member.read(limit)
