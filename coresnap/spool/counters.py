"""Counters kept in the dump root (``counters.json``), shared by the archive tool and coresnapd.

Every crash that is not processed (a full disk, a rate limit, garbage on the pipe) is counted
here, so a limit drops files, never the count. Updates are read-modify-write under an exclusive
flock(2) of ``counters.lock`` and published by rename, so concurrent archive tools and a kill -9
at any instant leave a whole file. Stdlib only.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Mapping
from pathlib import Path

FILE = "counters.json"
LOCK = "counters.lock"


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
    per-executable ``dropped_by_exe.<name>``. Raises OSError if the root is not writable.
    """
    root = Path(root)
    # Read-only is enough for flock(2), and lets the daemon (dump.user) lock a file root made.
    lock = os.open(root / LOCK, os.O_RDONLY | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)
        values = read(root)
        for key, n in increments.items():
            values[key] = values.get(key, 0) + n
        temp = root / f".{FILE}.{os.getpid()}"
        temp.write_text(json.dumps(values, sort_keys=True, indent=1) + "\n")
        os.chmod(temp, 0o644)
        os.rename(temp, root / FILE)
    finally:
        os.close(lock)
    return values


def dropped(values: Mapping[str, int]) -> int:
    """The total number of dropped crashes in ``values`` (per-exe breakdowns excluded)."""
    return sum(v for k, v in values.items() if k.startswith("dropped."))
