"""coresnapd's coredump socket receiver: ``core_pattern = @@<capture.socket>`` (request mode)
or ``@<capture.socket>``, so that no helper process starts per crash.

The listening socket is systemd's (socket activation: ``LISTEN_FDS``) or bound here at
``capture.socket`` (mode 0666: the kernel connects with the crashing process's credentials).
One thread blocks in ``accept`` (no CPU while idle); each connection gets a thread, at most
:data:`MAX_ACTIVE` at once. A connection whose peer is not dumping core (its pidfd lacks
``PIDFD_COREDUMPED``) is closed unread. In request mode the crash is judged before the kernel
writes a byte: ``admit`` (the daemon's storm limits) may answer ``COREDUMP_REJECT``, and the
rejected crash is counted (``dropped.rejected.<reason>``, ``dropped_by_exe.<comm>``). An
accepted one is archived as a piped one is (:mod:`coresnap.capture.socket_capture`); the kernel
keeps the process until the connection closes (``COREDUMP_WAIT``), so its /proc is whole.
"""

from __future__ import annotations

import ctypes
import logging
import os
import socket
import stat
import syslog
import threading
from collections.abc import Callable
from pathlib import Path

from coresnap.capture import coredump_socket as cs
from coresnap.capture import socket_capture
from coresnap.capture.log import Log
from coresnap.config import Config

MAX_ACTIVE = 16  # crashes received at once; more are rejected (request mode) as "busy"
SD_LISTEN_FDS_START = 3  # sd_listen_fds(3): the first passed descriptor
PR_SET_DUMPABLE = 4  # a receiver that crashes must not dump into itself (fs/coredump.c)


class DaemonLog(Log):
    """The archive's log lines (:class:`~coresnap.capture.log.Log`) into coresnapd's log."""

    LEVELS = {syslog.LOG_INFO: logging.INFO, syslog.LOG_WARNING: logging.WARNING,
              syslog.LOG_ERR: logging.ERROR}  # fmt: skip

    def __init__(self, logger: logging.Logger) -> None:  # no syslog.openlog: not our ident
        self.ident, self.files, self.history = "coresnapd", [], []
        self.logger = logger

    def _emit(self, priority: int, message: str) -> None:
        self.logger.log(self.LEVELS.get(priority, logging.INFO), message)


def inherited() -> socket.socket | None:
    """The listening socket systemd passed (``LISTEN_PID`` is us, ``LISTEN_FDS`` >= 1)."""
    if os.environ.get("LISTEN_PID") != str(os.getpid()) or not os.environ.get("LISTEN_FDS"):
        return None
    for name in ("LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"):
        os.environ.pop(name, None)  # not for our children
    return socket.socket(fileno=SD_LISTEN_FDS_START)


def bind(path: str) -> socket.socket:
    """A stream socket listening at ``path`` (a stale socket file is replaced). Raises OSError."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    if p.exists() and stat.S_ISSOCK(p.stat().st_mode):
        p.unlink()
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(path)
    os.chmod(path, 0o666)
    sock.listen(128)
    return sock


class Listener:
    """Receives crashes on ``sock``; ``admit(pid, exe_name)`` says why to reject one, or None."""

    def __init__(self, cfg: Config, root: str, sock: socket.socket, log: logging.Logger,
                 admit: Callable[[int, str], str | None]) -> None:  # fmt: skip
        self.cfg, self.root, self.sock, self.log = cfg, root, sock, log
        self.admit = admit
        self.slots = threading.BoundedSemaphore(MAX_ACTIVE)
        self.thread = threading.Thread(target=self._accept, name="coredump-socket", daemon=True)
        self.closed = False

    def start(self) -> None:
        ctypes.CDLL(None).prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
        self.thread.start()
        self.log.info(f"receiving cores on the coredump socket {self.sock.getsockname()}")

    def close(self) -> None:
        self.closed = True
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        self.thread.join(timeout=5)

    def _accept(self) -> None:
        while not self.closed:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                if self.closed:
                    return
                continue
            busy = not self.slots.acquire(blocking=False)
            threading.Thread(target=self._serve, args=(conn, busy), daemon=True).start()

    def _serve(self, conn: socket.socket, busy: bool) -> None:
        try:
            self._receive(conn, busy)
        except OSError as e:  # the protocol, or the peer went away
            self.log.warning(f"coredump socket: {getattr(e, 'what', None) or e}")
        finally:
            conn.close()
            if not busy:
                self.slots.release()

    def _receive(self, conn: socket.socket, busy: bool) -> None:
        pid, _uid, _gid = socket_capture.peer(conn)
        pidfd = cs.peer_pidfd(conn)
        try:
            mask = cs.coredump_mask(pidfd)
        finally:
            os.close(pidfd)
        if not mask & cs.PIDFD_COREDUMPED:
            self.log.warning(f"coredump socket: pid {pid} is not dumping core; connection closed")
            return
        comm = cs.proc_text(pid, "comm").strip() or "unknown"
        if cs.is_request(conn):
            request = cs.read_request(conn)
            reason = "busy" if busy else self._judge(pid, comm)
            if reason is not None:
                cs.answer(conn, request, cs.COREDUMP_REJECT)
                self._rejected(pid, comm, reason)
                return
            cs.answer(conn, request, cs.COREDUMP_KERNEL | (request.mask & cs.COREDUMP_WAIT))
        elif busy:
            self._rejected(pid, comm, "busy")
            return
        socket_capture.archive(self.cfg, self.root, conn, pid, mask, DaemonLog(self.log))

    def _judge(self, pid: int, comm: str) -> str | None:
        """Why the crash of ``pid`` is rejected before the kernel writes it, or None."""
        if cs.core_limit(cs.proc_text(pid, "limits")) == "0":
            return "core_limit"
        return self.admit(pid, os.path.basename(cs.exe_path(pid)) or comm)

    def _rejected(self, pid: int, comm: str, reason: str) -> None:
        socket_capture.count(self.root, DaemonLog(self.log), f"rejected.{reason}", comm)
        self.log.warning(f"coredump socket: crash of pid {pid} ({comm}) rejected: {reason}")
