"""Two snapshots of one crash compared as a reader would: without what the clock, the object id
or the core file (a minicore's path and size) legitimately change."""

from __future__ import annotations

import json
from typing import Any

VOLATILE = (("uuid",), ("timestamp",), ("analysis", "duration_ms"), ("analysis", "core_path"),
            ("analysis", "core_size"))  # fmt: skip


def comparable(snap: dict[str, Any]) -> dict[str, Any]:
    """``snap`` without the :data:`VOLATILE` fields (a copy)."""
    out = json.loads(json.dumps(snap))
    for path in VOLATILE:
        parent = out
        for key in path[:-1]:
            parent = parent.get(key, {})
        parent.pop(path[-1], None)
    return out
