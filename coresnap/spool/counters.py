"""Counters kept in the dump root (``counters.json``), shared by the archive tool and coresnapd.

Every crash that is not processed (a full disk, a rate limit, garbage on the pipe) is counted
here, so a limit drops files, never the count. Updates are read-modify-write under an exclusive
flock(2) of ``counters.lock`` and published by rename of a fsynced temp file, so concurrent
archive tools and a kill -9 or power cut at any instant leave a whole file; a temp file never
outlives its writer (one left by a kill is removed by the next update).

A full disk is when counting matters most (that drop must be counted too), and when a new file
cannot be written: ``.counters.reserve`` keeps a few blocks allocated while there is room, and
an update that meets ENOSPC gives them back and writes again. Stdlib only.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
from collections.abc import Mapping
from pathlib import Path

FILE = "counters.json"
LOCK = "counters.lock"
RESERVE = ".counters.reserve"
RESERVE_BYTES = 64 << 10  # at least twice the counters file; a few hundred executables fit
_TEMP_PREFIX = f".{FILE}."
_FULL = (errno.ENOSPC, errno.EDQUOT)


def read(root: str | os.PathLike[str]) -> dict[str, int]:
    """The counters of dump root ``root`` (empty if none were ever written)."""
    try:
        data = json.loads((Path(root) / FILE).read_text())
    except (FileNotFoundError, ValueError):
        return {}
    return {str(k): int(v) for k, v in data.items()} if isinstance(data, dict) else {}


def bump(root: str | os.PathLike[str], increments: Mapping[str, int]) -> dict[str, int]:
    """Add ``increments`` to the counters of ``root`` and return the new values.

    Keys are dotted names: ``archived``, ``dropped.quota``, ``dropped.ratelimit.exe``, and
    per-executable ``dropped_by_exe.<name>``. Raises OSError if the root is not writable, or
    if the disk is full and the reserve is already spent (no temp file is left behind).
    """
    root = Path(root)
    # Read-only is enough for flock(2), and lets the daemon (dump.user) lock a file root made.
    lock = os.open(root / LOCK, os.O_RDONLY | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)
        _remove_stale_temps(root)  # under the lock, any temp file is a killed writer's
        values = read(root)
        for key, n in increments.items():
            values[key] = values.get(key, 0) + n
        data = (json.dumps(values, sort_keys=True, indent=1) + "\n").encode()
        try:
            _publish(root, data)
        except OSError as e:
            if e.errno not in _FULL or not _release_reserve(root):
                raise
            _publish(root, data)
        _keep_reserve(root, 2 * len(data))
    finally:
        os.close(lock)
    return values


def _publish(root: Path, data: bytes) -> None:
    """Replace ``counters.json`` by ``data``: temp file, fsync, rename; the temp is removed on
    any failure."""
    temp = root / f"{_TEMP_PREFIX}{os.getpid()}"
    try:
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fchmod(fd, 0o644)  # whatever the umask: the daemon and `coresnap list` read it
            os.fsync(fd)
        finally:
            os.close(fd)
        os.rename(temp, root / FILE)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


def _remove_stale_temps(root: Path) -> None:
    for entry in os.scandir(root):
        if entry.name.startswith(_TEMP_PREFIX):
            Path(entry.path).unlink(missing_ok=True)


def _release_reserve(root: Path) -> bool:
    """Give the reserve's blocks back to the file system: True if there was one."""
    try:
        os.unlink(root / RESERVE)
    except FileNotFoundError:
        return False
    return True


def _keep_reserve(root: Path, wanted: int) -> None:
    """Make sure ``.counters.reserve`` holds at least ``wanted`` (and RESERVE_BYTES) allocated
    bytes. Best effort: on a full disk it stays as it was, to be made again once there is room."""
    path, wanted = root / RESERVE, max(wanted, RESERVE_BYTES)
    try:
        had = path.stat().st_size
    except FileNotFoundError:
        had = -1
    if had >= wanted:
        return
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except OSError:
        return  # another user's reserve (root's, seen by the daemon): it still serves
    try:
        os.posix_fallocate(fd, 0, wanted)
    except OSError:
        if had < 0:
            path.unlink(missing_ok=True)
        else:
            os.ftruncate(fd, had)  # give back what the failed call allocated
    finally:
        os.close(fd)


def dropped(values: Mapping[str, int]) -> int:
    """The total number of dropped crashes in ``values`` (per-exe breakdowns excluded)."""
    return sum(v for k, v in values.items() if k.startswith("dropped."))
