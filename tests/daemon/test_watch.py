"""The watchers: inotify for real; kqueue's logic against a fake event source (Linux has none)."""

from __future__ import annotations

import os
import queue
import select
import stat
import threading
import time
from pathlib import Path

from coresnap.daemon import watch


def test_inotify_wakes_on_rename_into_the_directory(tmp_path: Path) -> None:
    (tmp_path / "pending").mkdir()
    w = watch.InotifyWatcher([tmp_path / "pending"])
    try:
        start = time.monotonic()
        assert w.wait(0.2) is False and time.monotonic() - start >= 0.19
        (tmp_path / "x").write_text("core")
        os.rename(tmp_path / "x", tmp_path / "pending" / "x")
        assert w.wait(5) is True
        assert w.wait(0) is False  # the event was consumed
        threading.Timer(0.1, w.wake).start()
        assert w.wait(5) is True
    finally:
        w.close()


class FakeKevent:
    def __init__(self, ident: int, filter: int, flags: int = 0, fflags: int = 0) -> None:  # noqa: A002
        self.ident, self.filter, self.flags, self.fflags = ident, filter, flags, fflags


class FakeKqueue:
    """kqueue semantics the watcher relies on: EVFILT_READ fds become ready through select(),
    EVFILT_VNODE events come from ``vnode_events`` (the test plays the file system)."""

    def __init__(self) -> None:
        self.registered: list[FakeKevent] = []
        self.vnode_events: queue.Queue[FakeKevent] = queue.Queue()
        self.closed = False

    def control(self, changes, max_events: int, timeout: float | None = None):  # noqa: ANN001, ANN201
        self.registered += list(changes or [])
        if not max_events:
            return []
        reads = [k.ident for k in self.registered if k.filter == watch._KQ["EVFILT_READ"]]
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            try:
                return [self.vnode_events.get_nowait()]
            except queue.Empty:
                pass
            ready, _, _ = select.select(reads, [], [], 0.01)
            if ready:
                return [FakeKevent(fd, watch._KQ["EVFILT_READ"]) for fd in ready]
            if deadline is not None and time.monotonic() >= deadline:
                return []

    def close(self) -> None:
        self.closed = True


def test_kqueue_watcher_logic(tmp_path: Path) -> None:
    dirs = [tmp_path / "pending", tmp_path / "sending"]
    for d in dirs:
        d.mkdir()
    kq = FakeKqueue()
    w = watch.KqueueWatcher(dirs, kqueue=lambda: kq, kevent=FakeKevent)
    vnodes = [k for k in kq.registered if k.filter == watch._KQ["EVFILT_VNODE"]]
    assert len(vnodes) == 2
    for k in vnodes:
        assert stat.S_ISDIR(os.fstat(k.ident).st_mode)
        assert k.fflags & watch._KQ["NOTE_WRITE"] and k.flags & watch._KQ["EV_CLEAR"]
    assert w.wait(0.05) is False
    kq.vnode_events.put(FakeKevent(vnodes[0].ident, watch._KQ["EVFILT_VNODE"]))
    assert w.wait(None) is True
    threading.Timer(0.05, w.wake).start()
    assert w.wait(None) is True
    assert w.wait(0.05) is False  # the wake-up pipe was drained
    fds = [k.ident for k in vnodes]
    w.close()
    assert kq.closed
    for fd in fds:
        try:
            os.fstat(fd)
            raise AssertionError(f"fd {fd} still open")
        except OSError:
            pass
