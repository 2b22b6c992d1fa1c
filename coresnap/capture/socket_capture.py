"""One crash received on the coredump socket, archived as ``coresnap-archive`` archives a piped
one: the same :class:`~coresnap.capture.archive.Archive`, the same metadata and counters.

A pipe handler gets the core_pattern fields in argv; a socket server gets a connection. They
are rebuilt here from what the kernel gives: the peer's pid (``SO_PEERCRED``), how it dumps
(``PIDFD_INFO_COREDUMP``: root-owned for a suid dump), ``/proc/<pid>`` (still whole: the kernel
waits, ``COREDUMP_WAIT``) and the core's own notes (the signal, the dumping thread), read
before anything else is done with the stream. Stdlib only.
"""

from __future__ import annotations

import os
import signal
import socket
import struct
import time
from pathlib import Path

from coresnap.capture import coredump_socket as cs
from coresnap.capture import corestream, minicore
from coresnap.capture.archive import Archive
from coresnap.capture.log import Log
from coresnap.config import Config
from coresnap.errors import CaptureRejected
from coresnap.spool import counters

MAX_TASKS = 4096  # threads searched for the dumping thread's initial-namespace tid


def peer(conn: socket.socket) -> tuple[int, int, int]:
    """``(pid, uid, gid)`` of the connected process (``SO_PEERCRED``)."""
    raw = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    pid, uid, gid = struct.unpack("3i", raw)
    return pid, uid, gid


def _init_tid(pid: int, ns_tid: int, ns_pid: int) -> int:
    """The dumping thread's tid in our pid namespace, from its tid in its own."""
    if ns_tid == ns_pid:
        return pid
    try:
        tasks = sorted(os.listdir(f"/proc/{pid}/task"))[:MAX_TASKS]
    except OSError:
        return pid
    for tid in tasks:
        nstid = cs.status_field(cs.proc_text(pid, f"task/{tid}/status"), "NSpid")
        if nstid and nstid[-1] == str(ns_tid):
            return int(tid)
    return pid


def fields(pid: int, head: corestream.Head | None, mask: int) -> dict[str, str]:
    """The core_pattern fields (coresnap.capture.fields.FIELDS names) of the crash of ``pid``."""
    status = cs.proc_text(pid, "status")
    ns_pid = int((cs.status_field(status, "NSpid") or [str(pid)])[-1])
    ns_tid = head.threads[0].tid if head is not None else ns_pid
    return {
        "pid": str(pid),
        "ns_pid": str(ns_pid),
        "tid": str(_init_tid(pid, ns_tid, ns_pid)),
        "ns_tid": str(ns_tid),
        "signal": str(head.signo or 0) if head is not None else "0",
        "time": str(int(time.time())),
        "core_limit": cs.core_limit(cs.proc_text(pid, "limits")),
        "hostname": os.uname().nodename,
        "uid": (cs.status_field(status, "Uid") or [""])[0],
        "gid": (cs.status_field(status, "Gid") or [""])[0],
        "dumpable": "2" if mask & cs.PIDFD_COREDUMP_ROOT else "1",
        "comm": cs.proc_text(pid, "comm").strip(),
        "exe_path": cs.exe_path(pid).replace("/", "!"),
    }


def _signal_name(number: str) -> str:
    try:
        return signal.Signals(int(number)).name
    except ValueError:
        return f"signal {number}"


def archive(
    cfg: Config, root: str, conn: socket.socket, pid: int, mask: int, log: Log
) -> str | None:
    """Archive the core streaming on ``conn`` (from ``pid``) into ``root``; the dump id, or
    None when it was dropped (counted and logged, as coresnap-archive does)."""
    recorder = minicore.Recorder(cs.SocketReader(conn))
    try:
        head: corestream.Head | None = corestream.read_head(recorder)
    except corestream.HeadError:
        head = None  # not one we can read ahead: Archive checks and counts it
    crash = fields(pid, head, mask)
    exe = crash["exe_path"].replace("!", "/") or crash["comm"]
    log.info(f"crash of pid {pid} ({exe}) signal {_signal_name(crash['signal'])} "
             "(coredump socket)")  # fmt: skip
    src = minicore.Prefixed(bytes(recorder.seen), cs.SocketReader(conn))
    try:
        # Closing the connection once the core is read lets the kernel reap the process
        # (COREDUMP_WAIT) while the core is checked and fsynced, as coresnap-archive does.
        dump_id = Archive(cfg, root, crash, log).run(src, release=conn.close)
    except (CaptureRejected, OSError) as e:
        reason = e.counter if isinstance(e, CaptureRejected) else "error"
        log.error(f"pid {pid} ({exe}) not archived: {getattr(e, 'what', e)}")
        count(root, log, reason, crash["comm"])
        return None
    counters.bump(root, {"archived": 1})
    log.info(f"Crash dump archived in {Path(root) / 'pending' / dump_id}")
    return dump_id


def count(root: str, log: Log, reason: str, comm: str) -> None:
    """Count one crash not archived: ``dropped.<reason>`` and ``dropped_by_exe.<comm>``."""
    try:
        counters.bump(root, {f"dropped.{reason}": 1, f"dropped_by_exe.{comm}": 1})
    except OSError as e:
        log.error(f"cannot update counters in {root}: {e}")
