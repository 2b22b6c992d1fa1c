"""Crash-storm limits: at most N events per key within a sliding window."""

from __future__ import annotations

import time
from collections import deque


class RateLimit:
    """``allow(key)`` is True for at most ``count`` calls per ``window`` seconds per key.

    Memory is bounded by the keys seen within one window (older keys are forgotten).
    ``count`` 0 means no limit.
    """

    def __init__(self, count: int, window: float) -> None:
        self.count = count
        self.window = window
        self._seen: dict[str, deque[float]] = {}

    def allow(self, key: str, now: float | None = None) -> bool:
        if not self.count:
            return True
        now = time.monotonic() if now is None else now
        self._forget(now)
        times = self._seen.setdefault(key, deque())
        if len(times) >= self.count:
            return False
        times.append(now)
        return True

    def _forget(self, now: float) -> None:
        for key in list(self._seen):
            times = self._seen[key]
            while times and times[0] <= now - self.window:
                times.popleft()
            if not times:
                del self._seen[key]
