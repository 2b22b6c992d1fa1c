"""Times as text for people, for any number a database or a snapshot may hold.

A stored timestamp may be anything a float can be (an older coronerd kept any finite value;
a snapshot's own ``timestamp`` is whatever its writer put), and ``datetime``/``time.ctime``
raise on years past 9999 or before 1, and on ``inf``/``nan``. Every page and CLI view formats
times through here, so an absurd one shows as its number, never as a 500 or a traceback.
Imports nothing of coresnap: the client and the server both use it.
"""

from __future__ import annotations

import math
import time
from datetime import UTC, datetime


def _number(ts: object) -> float | None:
    if isinstance(ts, bool) or not isinstance(ts, int | float):
        return None
    try:
        return float(ts)
    except OverflowError:
        return math.inf


def utc(ts: object) -> str:
    """``2026-12-04 16:14:00 UTC``, or the value itself when it is no date."""
    n = _number(ts)
    if n is None:
        return "" if ts is None else str(ts)[:64]
    try:
        return datetime.fromtimestamp(n, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    except (OverflowError, ValueError, OSError):
        return f"{_short(ts)} (not a date)"


def local(ts: object) -> str:
    """``time.ctime`` of ``ts``, or the value itself when it is no date."""
    n = _number(ts)
    try:
        return time.ctime(n) if n is not None else str(ts)[:64]
    except (OverflowError, ValueError, OSError):
        return f"{_short(ts)} (not a date)"


def local_day(ts: object) -> str:
    """``Dec 04`` (local time), or ``?`` when ``ts`` is no date."""
    n = _number(ts)
    try:
        return time.strftime("%b %d", time.localtime(n)) if n is not None else "?"
    except (OverflowError, ValueError, OSError):
        return "?"


def ago(ts: object, now: float | None = None) -> str:
    """``3d ago`` / ``5m ago``; a time in the future counts as now, no date as ``""``."""
    n = _number(ts)
    if n is None or math.isnan(n):
        return ""
    s = max(0.0, (time.time() if now is None else now) - n)
    if math.isinf(s):
        return "ages ago"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if s >= size:
            return f"{int(s // size)}{unit} ago"
    return f"{int(s)}s ago"


def days(first: object, last: object) -> int:
    """Whole days from ``first`` to ``last`` (0 when either is no finite number)."""
    a, b = _number(first), _number(last)
    if a is None or b is None or not math.isfinite(b - a):
        return 0
    return int((b - a) // 86400)


def _short(ts: object) -> str:
    return repr(ts)[:64] if isinstance(ts, float) else str(ts)[:64]
