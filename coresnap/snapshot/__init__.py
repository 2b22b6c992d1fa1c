"""Snapshots: the small, self-contained JSON document made from a core (format v1).

``load``/``loads``/``dumps``/``validate``/``write`` are the file format (:mod:`.format`);
``build_snapshot`` makes one from a core (:mod:`.build`); ``run_snapshot`` makes one in a
resource-limited child process (:mod:`.isolate`).
"""

from __future__ import annotations

from coresnap.errors import SnapshotFormatError
from coresnap.snapshot.format import FORMAT, VERSION, dumps, load, loads, to_json, validate, write

__all__ = [
    "FORMAT",
    "VERSION",
    "SnapshotFormatError",
    "dumps",
    "load",
    "loads",
    "to_json",
    "validate",
    "write",
]
