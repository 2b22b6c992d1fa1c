"""The little coresnapd reads from a snapshot file: its fingerprint hash."""

from __future__ import annotations

import os

from coresnap.errors import CoresnapError


def fingerprint(path: str | os.PathLike[str]) -> str | None:
    """The fingerprint hash of the snapshot at ``path``, or None (no fingerprint, unreadable)."""
    from coresnap.snapshot.format import load

    try:
        snapshot = load(path, check=False)  # checked where it was written
    except (CoresnapError, OSError, ValueError):
        return None
    fp = snapshot.get("fingerprint") if isinstance(snapshot, dict) else None
    return str(fp["hash"]) if isinstance(fp, dict) and fp.get("hash") else None
