"""Crash-storm limits: at most N events per key within a sliding window."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict, deque


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

    def over(self, key: str, now: float | None = None) -> bool:
        """True when ``key`` is at its limit now (an ``allow`` would fail); nothing is counted."""
        if not self.count:
            return False
        now = time.monotonic() if now is None else now
        self._forget(now)
        return len(self._seen.get(key, ())) >= self.count


class Storm:
    """coresnapd's crash-storm limits, shared by the snapshot step (``ratelimit.exe``), the put
    step (``ratelimit.fingerprint``) and the coredump socket, which applies both before the
    kernel writes a core: an executable over ``ratelimit.exe``, or whose last snapshot had a
    fingerprint now over ``ratelimit.fingerprint``, is rejected. A dump the socket let through
    ``ratelimit.exe`` is not counted against it a second time (it is known by its pid, as the
    archive tool records it). Thread-safe."""

    MAX_EXES = 4096  # executables whose last fingerprint is remembered

    def __init__(self, exe: tuple[int, float], fingerprint: tuple[int, float]) -> None:
        self.exe = RateLimit(*exe)
        self.fingerprint = RateLimit(*fingerprint)
        self._lock = threading.Lock()
        self._admitted: set[str] = set()
        self._last: OrderedDict[str, str] = OrderedDict()

    def admit(self, pid: int, exe_name: str) -> str | None:
        """Why a new crash of ``exe_name`` (process ``pid``) is rejected at the socket, or None:
        then it is counted, and its snapshot step will not count it again."""
        with self._lock:
            fp = self._last.get(exe_name)
            if fp is not None and self.fingerprint.over(fp):
                return "ratelimit.fingerprint"
            if not self.exe.allow(exe_name):
                return "ratelimit.exe"
            self._admitted.add(str(pid))
            while len(self._admitted) > self.MAX_EXES:
                self._admitted.pop()
            return None

    def snapshot_allowed(self, pid: str, exe_name: str) -> bool:
        """Count a snapshot of ``exe_name``; False when it is over ``ratelimit.exe``."""
        with self._lock:
            if pid and pid in self._admitted:
                self._admitted.discard(pid)
                return True
            return self.exe.allow(exe_name)

    def put_allowed(self, exe_name: str, fp: str) -> bool:
        """Count a snapshot of fingerprint ``fp``; False when the fingerprint is over its limit."""
        with self._lock:
            self._last[exe_name] = fp
            self._last.move_to_end(exe_name)
            while len(self._last) > self.MAX_EXES:
                self._last.popitem(last=False)
            return self.fingerprint.allow(fp)
