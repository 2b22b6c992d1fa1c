"""Keep a snapshot under ``Bounds.max_snapshot_bytes``: shed detail far from the crash first.

Order: variables of threads that did not crash, then the crashed thread's variables below its
first 8 frames, then frames of other threads past the first 32. Each step taken is a cut.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from coresnap.snapshot.bounds import Bounds
from coresnap.snapshot.format import encode


def _drop_other_vars(snap: dict[str, Any]) -> str:
    for t in snap["threads"]:
        if not t["crashed"]:
            for f in t["frames"]:
                f["variables"] = []
    return "size: variables of threads that did not crash dropped"


def _drop_deep_crash_vars(snap: dict[str, Any]) -> str:
    for t in snap["threads"]:
        for f in t["frames"][8:]:
            f["variables"] = []
    return "size: variables below frame 8 of the crashed thread dropped"


def _drop_other_frames(snap: dict[str, Any]) -> str:
    for t in snap["threads"]:
        if not t["crashed"] and len(t["frames"]) > 32:
            t["frames_cut"] = f"size: 32 of {len(t['frames'])} frames kept"
            del t["frames"][32:]
    return "size: frames of threads that did not crash cut to 32"


_STEPS: tuple[Callable[[dict[str, Any]], str], ...] = (
    _drop_other_vars,
    _drop_deep_crash_vars,
    _drop_other_frames,
)


def shrink(snap: dict[str, Any], bounds: Bounds) -> list[str]:
    """Apply shedding steps until the snapshot fits; return the cuts made."""
    cuts: list[str] = []
    for step in _STEPS:
        if len(encode(snap)) <= bounds.max_snapshot_bytes:
            break
        cuts.append(step(snap))
    return cuts
