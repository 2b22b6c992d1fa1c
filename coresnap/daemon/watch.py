"""Wait, without polling, until something lands in a directory: inotify (Linux), kqueue (BSD).

A :class:`Watcher` blocks in :meth:`Watcher.wait` until an entry is created or renamed into one
of its directories, :meth:`Watcher.wake` is called (another thread finished a job), or the
timeout passes; between events the process uses no CPU. The caller rescans the directories
after every wake-up, so a lost or coalesced event costs nothing.
"""

from __future__ import annotations

import ctypes
import os
import select
import sys
from collections.abc import Callable, Sequence
from typing import Any, Protocol

# include/uapi/linux/inotify.h
IN_CLOSE_WRITE = 0x00000008
IN_MOVED_TO = 0x00000080
IN_CREATE = 0x00000100
IN_NONBLOCK = os.O_NONBLOCK
IN_CLOEXEC = os.O_CLOEXEC


class Watcher(Protocol):
    def wait(self, timeout: float | None) -> bool:
        """Block until an event, a wake() or ``timeout`` seconds; True if anything happened."""
        ...

    def wake(self) -> None:
        """Make a concurrent or the next wait() return at once (thread-safe)."""
        ...

    def close(self) -> None: ...


class _WakePipe:
    def __init__(self) -> None:
        self.read_fd, self.write_fd = os.pipe()
        for fd in (self.read_fd, self.write_fd):
            os.set_blocking(fd, False)
            os.set_inheritable(fd, False)

    def wake(self) -> None:
        try:
            os.write(self.write_fd, b"!")
        except BlockingIOError:
            pass  # already full of wake-ups: one is enough

    def drain(self) -> None:
        _drain(self.read_fd)

    def close(self) -> None:
        os.close(self.read_fd)
        os.close(self.write_fd)


def _drain(fd: int) -> None:
    try:
        while os.read(fd, 65536):
            pass
    except BlockingIOError:
        pass


class InotifyWatcher:
    """inotify through ctypes (stdlib only): IN_MOVED_TO | IN_CLOSE_WRITE | IN_CREATE."""

    def __init__(self, directories: Sequence[str | os.PathLike[str]]) -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        self.fd = libc.inotify_init1(IN_NONBLOCK | IN_CLOEXEC)
        if self.fd < 0:
            raise OSError(ctypes.get_errno(), "inotify_init1")
        for d in directories:
            mask = IN_MOVED_TO | IN_CLOSE_WRITE | IN_CREATE
            if libc.inotify_add_watch(self.fd, os.fsencode(d), mask) < 0:
                errno = ctypes.get_errno()
                os.close(self.fd)
                raise OSError(errno, f"inotify_add_watch {d}")
        self._wake = _WakePipe()
        self._poll = select.poll()
        self._poll.register(self.fd, select.POLLIN)
        self._poll.register(self._wake.read_fd, select.POLLIN)

    def wait(self, timeout: float | None) -> bool:
        ready = self._poll.poll(None if timeout is None else max(0, int(timeout * 1000)))
        _drain(self.fd)
        self._wake.drain()
        return bool(ready)

    def wake(self) -> None:
        self._wake.wake()

    def close(self) -> None:
        os.close(self.fd)
        self._wake.close()


class KqueueWatcher:
    """kqueue EVFILT_VNODE/NOTE_WRITE on each directory (a directory is written when an entry
    is added or renamed into it), plus EVFILT_READ on a wake-up pipe.

    ``kqueue`` and ``kevent`` default to ``select.kqueue``/``select.kevent``; tests pass an
    event source of their own, since Linux has no kqueue.
    """

    def __init__(
        self,
        directories: Sequence[str | os.PathLike[str]],
        kqueue: Callable[[], Any] | None = None,
        kevent: Callable[..., Any] | None = None,
    ) -> None:
        self._kq = (kqueue or select.kqueue)()  # type: ignore[attr-defined]
        self._kevent = kevent or select.kevent  # type: ignore[attr-defined]
        self._wake = _WakePipe()
        self._dir_fds = [os.open(d, os.O_RDONLY) for d in directories]
        k = self._kevent
        changes = [k(fd, filter=_KQ["EVFILT_VNODE"], flags=_KQ["EV_ADD"] | _KQ["EV_CLEAR"],
                     fflags=_KQ["NOTE_WRITE"]) for fd in self._dir_fds]  # fmt: skip
        changes.append(k(self._wake.read_fd, filter=_KQ["EVFILT_READ"], flags=_KQ["EV_ADD"]))
        self._kq.control(changes, 0, 0)

    def wait(self, timeout: float | None) -> bool:
        events = self._kq.control(None, 8, timeout)
        self._wake.drain()
        return bool(events)

    def wake(self) -> None:
        self._wake.wake()

    def close(self) -> None:
        for fd in self._dir_fds:
            os.close(fd)
        self._kq.close()
        self._wake.close()


# sys/event.h (FreeBSD); the select module exports them only where kqueue exists.
_KQ = {
    "EVFILT_READ": getattr(select, "KQ_FILTER_READ", -1),
    "EVFILT_VNODE": getattr(select, "KQ_FILTER_VNODE", -4),
    "EV_ADD": getattr(select, "KQ_EV_ADD", 0x1),
    "EV_CLEAR": getattr(select, "KQ_EV_CLEAR", 0x20),
    "NOTE_WRITE": getattr(select, "KQ_NOTE_WRITE", 0x2),
}


def watcher(directories: Sequence[str | os.PathLike[str]]) -> Watcher:
    """The watcher of this platform. Raises OSError if the kernel refuses (inotify limits)."""
    if sys.platform.startswith("linux"):
        return InotifyWatcher(directories)
    return KqueueWatcher(directories)
