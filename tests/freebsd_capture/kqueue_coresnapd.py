"""coresnapd on its kqueue backend, on Linux: ``python kqueue_coresnapd.py COUNTS coresnapd-args``.

Linux has no kqueue, so :class:`StatKqueue` stands in for ``select.kqueue`` with the semantics
coresnap's :class:`~coresnap.daemon.watch.KqueueWatcher` relies on (FreeBSD kqueue(2)):
``EVFILT_VNODE``/``NOTE_WRITE`` on a directory fires when an entry is created in it or renamed
into it (the directory's mtime changes: that is what the stand-in watches, with fstat on the
registered descriptors), ``EV_CLEAR`` re-arms it, ``EVFILT_READ`` fires when a descriptor is
readable. Everything else — the watcher, the daemon, its steps — is the real code. The number of
events delivered is written to COUNTS at exit, so the test sees that kqueue woke the daemon.
"""

from __future__ import annotations

import atexit
import os
import select
import sys
import time
from pathlib import Path
from typing import Any

from coresnap.daemon import watch

EVFILT_READ, EVFILT_VNODE = watch._KQ["EVFILT_READ"], watch._KQ["EVFILT_VNODE"]
NOTE_WRITE = watch._KQ["NOTE_WRITE"]


class Kevent:
    def __init__(self, ident: int, filter: int, flags: int = 0, fflags: int = 0) -> None:  # noqa: A002
        self.ident, self.filter, self.flags, self.fflags = ident, filter, flags, fflags


class StatKqueue:
    delivered = 0

    def __init__(self) -> None:
        self.vnodes: dict[int, int] = {}  # fd -> st_mtime_ns when last reported
        self.reads: list[int] = []

    def control(self, changes: Any, max_events: int, timeout: float | None = None) -> list[Kevent]:
        for k in changes or []:
            if k.filter == EVFILT_VNODE:
                assert k.fflags & NOTE_WRITE, "coresnap must ask for NOTE_WRITE"
                self.vnodes[k.ident] = os.fstat(k.ident).st_mtime_ns
            elif k.filter == EVFILT_READ:
                self.reads.append(k.ident)
        if not max_events:
            return []
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            out = []
            for fd, seen in self.vnodes.items():
                now = os.fstat(fd).st_mtime_ns
                if now != seen:  # EV_CLEAR: reported once per change
                    self.vnodes[fd] = now
                    out.append(Kevent(fd, EVFILT_VNODE, fflags=NOTE_WRITE))
            ready, _, _ = select.select(self.reads, [], [], 0)
            out += [Kevent(fd, EVFILT_READ) for fd in ready]
            if out:
                StatKqueue.delivered += sum(1 for k in out if k.filter == EVFILT_VNODE)
                return out[:max_events]
            if deadline is not None and time.monotonic() >= deadline:
                return []
            time.sleep(0.01)

    def close(self) -> None:
        self.vnodes.clear()


def main() -> int:
    counts = Path(sys.argv[1])
    atexit.register(lambda: counts.write_text(f"{StatKqueue.delivered}\n"))
    watch.watcher = lambda dirs: watch.KqueueWatcher(dirs, kqueue=StatKqueue, kevent=Kevent)
    from coresnap.cli.coresnapd import main as coresnapd

    return coresnapd(sys.argv[2:])


if __name__ == "__main__":
    sys.exit(main())
