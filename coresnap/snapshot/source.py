"""Embed a few source lines around the crashed thread's innermost frames, so the viewer can
show the crashing line on a machine without the sources (bounded: 3 frames × 5 lines)."""

from __future__ import annotations

import os
from typing import Any

from coresnap.analysis.document import crashed_thread

MAX_FRAMES = 3
CONTEXT = 2  # lines before and after
MAX_LINE = 200  # characters kept of one source line
MAX_FILE = 8 << 20  # do not read generated monsters


def attach_source(snap: dict[str, Any]) -> None:
    """Add ``source: {first_line, lines}`` to the crashed thread's first frames with a line."""
    crashed = crashed_thread(snap)
    if crashed is None:
        return
    done = 0
    for frame in crashed["frames"]:
        if done >= MAX_FRAMES:
            break
        if not frame.get("file") or not frame.get("line"):
            continue
        source = _lines(frame["file"], frame["line"])
        if source is not None:
            frame["source"] = source
            done += 1


def _lines(path: str, line: int) -> dict[str, Any] | None:
    try:
        if os.path.getsize(path) > MAX_FILE:
            return None
        with open(path, encoding="utf-8", errors="replace") as f:
            all_lines = f.read().splitlines()
    except OSError:
        return None
    if line > len(all_lines):
        return None
    first = max(1, line - CONTEXT)
    chosen = all_lines[first - 1 : line + CONTEXT]
    return {"first_line": first, "lines": [text[:MAX_LINE] for text in chosen]}
